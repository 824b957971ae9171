"""The mock NPDB as a real server on 127.0.0.1 (subprocess via MockNPDB)."""

from __future__ import annotations

import http.server
import json
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import httpx
import jwt
import pytest

from popcert_npdb.client_auth import ASSERTION_TYPE
from popcert_npdb.launcher import MockNPDB
from popcert_npdb.notifications import verify_signature
from popcert_npdb.pki import load_private_key

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def npdb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MockNPDB]:
    with MockNPDB(tmp_path_factory.mktemp("npdb"), population=1_000_000, mtls="optional") as mock:
        yield mock


def tls(npdb: MockNPDB, cert: str | None = None) -> ssl.SSLContext:
    # httpx 0.28 ignores `cert=` next to a path `verify=`: build the context ourselves.
    ctx = ssl.create_default_context(cafile=str(npdb.pki.ca_path))
    if cert:
        issued = npdb.pki.issued_dir
        ctx.load_cert_chain(issued / f"{cert}.pem", issued / f"{cert}.key")
    return ctx


def assertion(npdb: MockNPDB, client_id: str = "city-system", **over: Any) -> str:
    claims = {"iss": client_id, "sub": client_id, "aud": npdb.token_url,
              "exp": int(time.time()) + 60, "jti": uuid.uuid4().hex, **over}
    key = load_private_key(npdb.pki.issued_dir / f"{client_id}.key")
    return jwt.encode(claims, key, algorithm="ES256")


def token_pkjwt(npdb: MockNPDB, scope: str | None = None, client_id: str = "city-system") -> str:
    return npdb.token(client_id=client_id, scope=scope)


def data_headers(token: str, purpose: str = "1.001193") -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "X-Purpose-Code": purpose,
            "X-Request-Id": str(uuid.uuid4())}


def test_private_key_jwt_token_flow_and_audit(npdb: MockNPDB) -> None:
    assert npdb.admin is not None
    token = token_pkjwt(npdb)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["iss"] == npdb.issuer and claims["aud"] == "npdb"
    assert claims["client_id"] == claims["sub"] == "city-system"
    jwks = httpx.get(npdb.jwks_url, verify=tls(npdb)).json()
    key = jwt.PyJWKSet.from_dict(jwks)[jwt.get_unverified_header(token)["kid"]].key
    jwt.decode(token, key, algorithms=["ES256"], audience="npdb")
    adult = npdb.admin.sample("adult", 1)[0]
    mark = npdb.admin.audit_mark()
    h = data_headers(token)
    resp = httpx.get(f"{npdb.data_url}/npdb/v1/citizens/{adult['personal_id']}",
                     params={"fields": "full_name,blood_type"}, headers=h, verify=tls(npdb))
    assert resp.json() == {"full_name": adult["full_name"]}
    [entry] = npdb.admin.audit(since_id=mark, request_id=h["X-Request-Id"])
    assert (entry.client_id, entry.status, entry.purpose_code) == ("city-system", 200, "1.001193")
    assert entry.fields_returned == ["full_name"] and entry.auth_method == "bearer/private_key_jwt"


def test_token_endpoint_refuses_bad_client_auth(npdb: MockNPDB) -> None:
    with httpx.Client(verify=tls(npdb)) as http:
        def post(**form: str) -> httpx.Response:
            return http.post(npdb.token_url, data={"grant_type": "client_credentials", **form})
        assert post().status_code == 401
        replay = assertion(npdb)
        assert post(client_assertion_type=ASSERTION_TYPE, client_assertion=replay).status_code == 200
        assert post(client_assertion_type=ASSERTION_TYPE, client_assertion=replay).status_code == 401
        wrong_aud = assertion(npdb, aud="https://elsewhere.test/token")
        assert post(client_assertion_type=ASSERTION_TYPE, client_assertion=wrong_aud).status_code == 401
        too_much = post(client_assertion_type=ASSERTION_TYPE, client_assertion=assertion(npdb, "portal"),
                        scope="citizen.read")
        assert too_much.status_code == 400 and too_much.json()["error"] == "invalid_scope"


def test_mtls_token_flow_and_bad_certificates(npdb: MockNPDB) -> None:
    npdb.pki.client_cert_set("city-system")
    with httpx.Client(verify=tls(npdb, "city-system")) as http:
        resp = http.post(npdb.token_url, data={"grant_type": "client_credentials",
                                               "client_id": "city-system"})
        assert resp.status_code == 200, resp.text
        h = data_headers(resp.json()["access_token"])
        pid = npdb.admin.sample("adult", 1)[0]["personal_id"]  # type: ignore[union-attr]
        assert http.get(f"{npdb.data_url}/npdb/v1/citizens/{pid}", headers=h).status_code == 200
        [entry] = npdb.admin.audit(request_id=h["X-Request-Id"])  # type: ignore[union-attr]
        assert entry.auth_method == "bearer/mtls+client_cert"
        mismatch = http.post(npdb.token_url, data={"grant_type": "client_credentials",
                                                   "client_id": "other-system"})
        assert mismatch.status_code == 401
        # A valid client certificate does not excuse a client_assertion_type the spec refuses.
        for bad_type in ("AAA", ""):
            odd = http.post(npdb.token_url, data={"grant_type": "client_credentials",
                                                  "client_id": "city-system",
                                                  "client_assertion_type": bad_type})
            assert odd.status_code == 401, (bad_type, odd.text)
    for bad in ("city-system-expired", "city-system-foreign"):
        with pytest.raises(httpx.HTTPError):
            httpx.post(npdb.token_url, data={"grant_type": "client_credentials",
                                             "client_id": "city-system"}, verify=tls(npdb, bad))


def test_every_endpoint_and_error_class_never_500(npdb: MockNPDB) -> None:
    token = token_pkjwt(npdb)
    child = npdb.admin.sample("child_with_parents", 1)[0]  # type: ignore[union-attr]
    base = f"{npdb.data_url}/npdb/v1"
    cases: list[tuple[str, str, dict[str, Any], int]] = [
        ("GET", f"/citizens/{child['personal_id']}", {}, 200),
        ("GET", f"/citizens/{child['personal_id']}/residence", {}, 200),
        ("GET", f"/households/{child['household_id']}", {}, 200),
        ("POST", "/identity/verify", {"json": {"personal_id": child["personal_id"],
                                               "full_name": child["full_name"],
                                               "date_of_birth": child["date_of_birth"]}}, 200),
        ("GET", "/citizens/00109", {}, 400),
        ("GET", "/citizens/999999999999", {}, 404),
        ("GET", "/households/HH999999999999", {}, 404),
        ("POST", "/identity/verify", {"content": b"\xff\x00"}, 400),
        ("POST", "/identity/verify", {"json": {"personal_id": 1}}, 422),
        ("POST", "/identity/verify", {"json": [1, 2]}, 422),
        ("POST", "/subscriptions", {"json": {"callback_url": "http://8.8.8.8/", "events": ["birth"]}}, 422),
        ("DELETE", "/identity/verify", {}, 405),
        ("GET", "/nowhere", {}, 404),
    ]
    with httpx.Client(verify=tls(npdb)) as http:
        for method, path, kw, expected in cases:
            resp = http.request(method, base + path, headers=data_headers(token), **kw)
            assert resp.status_code == expected, (method, path, resp.text)
            if expected >= 400:
                assert {"error", "message", "request_id"} <= set(resp.json())
        verified = http.post(base + "/identity/verify", headers=data_headers(token), json={
            "personal_id": child["personal_id"], "full_name": child["full_name"],
            "date_of_birth": child["date_of_birth"]}).json()
        assert verified == {"match": True, "mismatched_fields": []}
        unauth = http.get(base + f"/citizens/{child['personal_id']}")
        assert unauth.status_code == 401 and "WWW-Authenticate" in unauth.headers
        narrow = token_pkjwt(npdb, scope="identity.verify")
        assert http.get(base + f"/citizens/{child['personal_id']}",
                        headers=data_headers(narrow)).status_code == 403


def test_injected_faults(npdb: MockNPDB) -> None:
    admin = npdb.admin
    assert admin is not None
    token = token_pkjwt(npdb)
    url = f"{npdb.data_url}/npdb/v1/identity/verify"
    body = {"personal_id": "001090000000", "full_name": "A", "date_of_birth": "1990-01-01"}
    try:
        admin.inject("/npdb/v1/identity/verify", "reset", count=1)
        with pytest.raises(httpx.TransportError):
            httpx.post(url, json=body, headers=data_headers(token), verify=tls(npdb))
        admin.inject("/npdb/v1/identity/verify", "timeout", count=1, latency_ms=2000)
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(url, json=body, headers=data_headers(token), verify=tls(npdb), timeout=0.5)
        admin.inject("/npdb/v1/identity/verify", "latency", count=1, latency_ms=300)
        resp = httpx.post(url, json=body, headers=data_headers(token), verify=tls(npdb))
        assert resp.status_code == 200 and resp.elapsed.total_seconds() >= 0.3
        admin.inject("*", "status", count=1, status=503)
        assert httpx.post(url, json=body, headers=data_headers(token),
                          verify=tls(npdb)).status_code == 503
        admin.inject("/npdb/v1/identity/verify", "malformed", count=1)
        with pytest.raises(json.JSONDecodeError):
            httpx.post(url, json=body, headers=data_headers(token), verify=tls(npdb)).json()
    finally:
        admin.clear_faults()
    assert admin.faults() == []


class _Receiver(http.server.BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[bytes, str]]] = []
    fail_first = 0

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((body, self.headers.get("X-NPDB-Signature", "")))
        status = 500 if type(self).fail_first > 0 else 200
        type(self).fail_first -= 1
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_notification_delivered_with_valid_hmac_and_retried(npdb: MockNPDB) -> None:
    admin = npdb.admin
    assert admin is not None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        _Receiver.fail_first = 1  # first attempt fails: the mock must retry with backoff
        callback = f"http://127.0.0.1:{server.server_address[1]}/hook"
        sub = httpx.post(f"{npdb.data_url}/npdb/v1/subscriptions", verify=tls(npdb),
                         headers=data_headers(token_pkjwt(npdb)),
                         json={"callback_url": callback, "events": ["death", "birth"]})
        assert sub.status_code == 201
        secret = sub.json()["secret"]
        person = admin.sample("adult", 1, seed=9)[0]
        event = admin.notify("death", person["personal_id"])
        assert len(event["deliveries"]) == 1
        deadline = time.monotonic() + 10
        while len(_Receiver.received) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(_Receiver.received) == 2
        body, signature = _Receiver.received[-1]
        assert verify_signature(secret, body, signature)
        payload = json.loads(body)
        assert payload["type"] == "death" and payload["personal_id"] == person["personal_id"]
        delivery = next(d for d in admin.deliveries() if d["event_id"] == payload["event_id"])
        deadline = time.monotonic() + 5
        while delivery["status"] != "delivered" and time.monotonic() < deadline:
            time.sleep(0.05)
            delivery = next(d for d in admin.deliveries() if d["event_id"] == payload["event_id"])
        assert delivery["status"] == "delivered" and len(delivery["attempts"]) == 2
        statuses = [e.status for e in admin.audit() if e.endpoint == "notification"]
        assert 500 in statuses and 200 in statuses
    finally:
        server.shutdown()
        server.server_close()


def test_key_rotation_keeps_old_tokens_valid(npdb: MockNPDB) -> None:
    admin = npdb.admin
    assert admin is not None
    old = token_pkjwt(npdb)
    new_kid = admin.rotate_keys()
    time.sleep(1.1)  # the verifier re-reads the published key set at most once a second
    kids = [k["kid"] for k in httpx.get(npdb.jwks_url, verify=tls(npdb)).json()["keys"]]
    assert kids[0] == new_kid and jwt.get_unverified_header(old)["kid"] in kids
    assert jwt.get_unverified_header(token_pkjwt(npdb))["kid"] == new_kid
    pid = admin.sample("adult", 1)[0]["personal_id"]
    assert httpx.get(f"{npdb.data_url}/npdb/v1/citizens/{pid}", headers=data_headers(old),
                     verify=tls(npdb)).status_code == 200


def test_mtls_required_refuses_clients_without_certificate(tmp_path: Path) -> None:
    with MockNPDB(tmp_path, population=10_000, mtls="required") as npdb:
        with pytest.raises(httpx.HTTPError):
            httpx.get(npdb.jwks_url, verify=tls(npdb))
        assert httpx.get(npdb.jwks_url, verify=tls(npdb, "city-system")).status_code == 200


# --- a server that holds (issue 12 item 9) -------------------------------------------------------

def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _raw_tls(npdb: MockNPDB) -> ssl.SSLSocket:
    host, port = npdb.data_url.removeprefix("https://").split(":")
    return tls(npdb).wrap_socket(socket.create_connection((host, int(port)), timeout=10),
                                 server_hostname=host)


def test_bodies_over_the_limit_never_reach_memory(npdb: MockNPDB) -> None:
    before = _rss_kib(npdb.pid)
    auth = "".join(f"{k}: {v}\r\n" for k, v in data_headers(npdb.token()).items())
    for path in ("/oauth2/token", "/npdb/v1/identity/verify", "/npdb/v1/subscriptions"):
        # Declared: 1 GiB announced, 413 at once, before a byte of the body is sent.
        with _raw_tls(npdb) as conn:
            conn.sendall(f"POST {path} HTTP/1.1\r\nHost: npdb\r\nContent-Length: 1073741824\r\n"
                         "Content-Type: application/x-www-form-urlencoded\r\n\r\n".encode())
            assert conn.recv(4096).startswith(b"HTTP/1.1 413"), path
        # Streamed: chunked, no length; refused while it streams, long before 64 MiB.
        with _raw_tls(npdb) as conn:
            conn.sendall(f"POST {path} HTTP/1.1\r\nHost: npdb\r\nTransfer-Encoding: chunked\r\n"
                         f"Content-Type: application/json\r\n{auth}\r\n".encode())
            chunk = b"10000\r\n" + b"x" * 0x10000 + b"\r\n"
            sent, answer = 0, b""
            conn.settimeout(0.05)
            while sent < 64 * 1024 * 1024 and not answer:
                try:
                    conn.sendall(chunk)
                    sent += len(chunk)
                    answer = conn.recv(4096)
                except TimeoutError:
                    continue
                except OSError:
                    break  # the server closed the connection after answering
            conn.settimeout(5)
            try:
                answer = answer or conn.recv(4096)
            except OSError:
                pass
            assert answer.startswith(b"HTTP/1.1 413"), (path, sent, answer[:80])
            assert sent < 4 * 1024 * 1024
    assert _rss_kib(npdb.pid) - before < 64 * 1024  # nothing like the body was ever held


def _serve(state_dir: Path, *extra: str) -> tuple[subprocess.Popen[bytes], dict[str, Any]]:
    state_dir.mkdir(parents=True, exist_ok=True)
    ready = state_dir / "ready.json"
    proc = subprocess.Popen([sys.executable, "-m", "popcert_npdb", "serve",
                             "--state-dir", str(state_dir), "--population", "20000",
                             "--ready-file", str(ready), *extra],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if ready.exists() and json.loads(ready.read_text()).get("pid") == proc.pid:
            return proc, json.loads(ready.read_text())
        assert proc.poll() is None, "mock exited"
        time.sleep(0.05)
    proc.kill()
    raise TimeoutError("mock not ready")


def test_every_answered_call_is_audited_after_kill_9(tmp_path: Path) -> None:
    from popcert_npdb.audit import AuditLog
    from popcert_npdb.client_auth import fetch_token, tls_context
    from popcert_npdb.pki import TestPKI

    proc, ready = _serve(tmp_path)
    try:
        pki = TestPKI(tmp_path)
        token = fetch_token(ready["token_url"], pki.ca_path, pki.issued_dir / "city-system.key")
        answered = []
        with httpx.Client(verify=tls_context(pki.ca_path), timeout=10) as http:
            for n in range(400):
                h = data_headers(token)
                resp = http.post(f"{ready['data_url']}/npdb/v1/identity/verify", headers=h,
                                 json={"personal_id": f"{n:012d}", "full_name": "A",
                                       "date_of_birth": "1990-01-01"})
                assert resp.status_code in (200, 400)
                answered.append(h["X-Request-Id"])
        proc.send_signal(signal.SIGKILL)  # no flush, no shutdown: straight after the answers
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    recovered = {e["request_id"] for e in AuditLog(tmp_path / "audit.sqlite").query()}
    missing = [rid for rid in answered if rid not in recovered]
    assert missing == [], f"{len(missing)} of {len(answered)} answered calls missing"


def test_idle_connections_never_lock_out_a_real_client(tmp_path: Path) -> None:
    from popcert_npdb.client_auth import fetch_token
    from popcert_npdb.pki import TestPKI

    proc, ready = _serve(tmp_path, "--max-client-connections", "200", "--idle-timeout", "3")
    host, port = ready["data_url"].removeprefix("https://").split(":")
    idle: list[socket.socket] = []
    try:
        pki = TestPKI(tmp_path)
        context = ssl.create_default_context(cafile=str(pki.ca_path))
        for n in range(2000):  # ten times the cap: plain TCP, never a byte of TLS
            idle.append(socket.create_connection((host, int(port)), timeout=10))
        for _ in range(50):  # and some that finish the handshake, then say nothing
            idle.append(context.wrap_socket(socket.create_connection((host, int(port))),
                                            server_hostname=host))
        started = time.monotonic()
        token = fetch_token(ready["token_url"], pki.ca_path, pki.issued_dir / "city-system.key")
        assert token and time.monotonic() - started < 5
        # A connection that completes its handshake and never asks anything is closed.
        lurker = context.wrap_socket(socket.create_connection((host, int(port))),
                                     server_hostname=host)
        lurker.settimeout(10)
        waited = time.monotonic()
        assert lurker.recv(1) == b""
        assert time.monotonic() - waited < 8
        lurker.close()
    finally:
        for conn in idle:
            conn.close()
        proc.kill()
        proc.wait(timeout=10)
