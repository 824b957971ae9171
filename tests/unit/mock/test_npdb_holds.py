"""The mock is a server that holds (issue 12 item 9), in process: hostile bodies get 4xx, never
500; bodies over the limit are refused from Content-Length and while streaming; the audit journal
recovers what a killed process answered but never flushed. Also issue 13's token-endpoint and
notification items."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from popcert_npdb.admin_app import build_admin_app
from popcert_npdb.app import MAX_BODY_BYTES, build_data_app
from popcert_npdb.audit import AuditLog
from popcert_npdb.notifications import Notifier
from popcert_npdb.server import build_state
from popcert_npdb.tokens import TokenMinter

DEEP = ("[" * 2000 + "]" * 2000).encode()


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Any:
    state_dir = tmp_path_factory.mktemp("npdb-holds")
    state = build_state(Path(state_dir), population=20_000, seed=6, mtls="off")
    data = TestClient(build_data_app(state), base_url="https://testserver",
                      raise_server_exceptions=False)
    admin = TestClient(build_admin_app(state), base_url="http://testserver",
                       raise_server_exceptions=False)
    yield state, data, admin, TokenMinter(state_dir)
    data.close()
    admin.close()


def headers(minter: TokenMinter) -> dict[str, str]:
    token = minter.mint("city-system", "citizen.read identity.verify notification.subscribe",
                        audience="npdb")
    return {"Authorization": f"Bearer {token}", "X-Request-Id": str(uuid.uuid4()),
            "X-Purpose-Code": "1.001193", "Content-Type": "application/json"}


def test_huge_numbers_and_deep_json_are_client_errors(env: Any) -> None:
    _, data, admin, minter = env
    digits = "7" * 5000
    bodies = [
        ("/npdb/v1/identity/verify", ('{"personal_id": ' + digits + ', "full_name": "A", '
                                      '"date_of_birth": "1990-01-01"}').encode()),
        ("/npdb/v1/identity/verify", json.dumps({"personal_id": digits, "full_name": "A",
                                                 "date_of_birth": "1990-01-01"}).encode()),
        ("/npdb/v1/identity/verify", DEEP),
        ("/npdb/v1/subscriptions", DEEP),
        ("/npdb/v1/subscriptions", ('{"callback_url": ' + digits + "}").encode()),
    ]
    for path, body in bodies:
        resp = data.post(path, content=body, headers=headers(minter))
        assert resp.status_code in (400, 422), (path, body[:40], resp.status_code, resp.text)
    resp = data.get(f"/npdb/v1/citizens/{digits}", headers=headers(minter))
    assert resp.status_code == 400
    for path in ("/admin/notifications", "/admin/faults", "/admin/rate_limit", "/admin/trust"):
        resp = admin.post(path, content=DEEP)
        assert resp.status_code in (400, 422), (path, resp.status_code)
        resp = admin.post(path, content=b'{"personal_id": ' + digits.encode() + b"}")
        assert resp.status_code in (400, 422), (path, resp.status_code)
    assert admin.get("/admin/audit", params={"since_id": digits}).status_code == 400


def test_bodies_over_the_limit_are_refused_declared_or_streamed(env: Any) -> None:
    state, data, admin, minter = env
    big = b"x" * (MAX_BODY_BYTES + 1)
    for path in ("/oauth2/token", "/npdb/v1/identity/verify", "/npdb/v1/subscriptions",
                 "/npdb/v1/ping", "/no/such/endpoint"):
        declared = data.post(path, content=big, headers=headers(minter))
        assert declared.status_code == 413, (path, declared.status_code)

        def stream() -> Any:  # no Content-Length: Transfer-Encoding chunked
            for _ in range(40):
                yield b"y" * 16_384

        streamed = data.post(path, content=stream(), headers=headers(minter))
        # An unknown endpoint answers 404 without reading the body at all: nothing is held.
        expected = 404 if path == "/no/such/endpoint" else 413
        assert streamed.status_code == expected, (path, streamed.status_code)
    assert admin.post("/admin/faults", content=b"x" * (2 * 1024 * 1024)).status_code == 413
    # A body within the limit still works, streamed or not.
    small = data.post("/npdb/v1/ping", content=iter([b"{}"]), headers=headers(minter))
    assert small.status_code == 200
    refused = [e for e in state.audit.query() if e["status"] == 413]
    assert len(refused) == 9  # refused calls are audited too (5 declared, 4 streamed)


def test_journal_replays_what_a_killed_process_never_flushed(tmp_path: Path) -> None:
    db = tmp_path / "audit.sqlite"
    log = AuditLog(db)
    log.record(method="GET", endpoint="/x", path="/x", status=200, latency_ms=1.0,
               request_id="flushed")
    log.flush()
    for n in range(50):
        log.record(method="GET", endpoint="/x", path="/x", status=200, latency_ms=1.0,
                   request_id=f"answered-{n}")
    # No flush, no close: what kill -9 leaves behind is the database plus the journal.
    reopened = AuditLog(db)
    ids = [e["request_id"] for e in reopened.query()]
    assert ids == ["flushed", *(f"answered-{n}" for n in range(50))]
    reopened.close()
    assert [e["request_id"] for e in AuditLog(db).query()] == ids  # replayed once, not twice


def test_client_assertion_type_is_checked_whatever_authenticates_the_client(env: Any) -> None:
    _, data, _, _ = env
    for form in ({"grant_type": "client_credentials", "client_id": "city-system",
                  "client_assertion_type": "AAA"},
                 {"grant_type": "client_credentials", "client_id": "city-system",
                  "client_assertion_type": ""},
                 {"grant_type": "client_credentials", "client_id": "city-system",
                  "client_assertion_type":
                      "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
                 {"grant_type": "client_credentials", "audience": ""}):
        resp = data.post("/oauth2/token", data=form)
        assert resp.status_code in (400, 401), (form, resp.status_code, resp.text)


def test_subscriptions_survive_a_restart_and_the_newest_is_used(tmp_path: Path) -> None:
    first = Notifier(state_dir=tmp_path)
    stale = first.subscribe("city-system", "https://127.0.0.1:8443/cb", ["death", "birth"])
    other = first.subscribe("other-system", "https://127.0.0.1:8443/cb", ["death"])
    restarted = Notifier(state_dir=tmp_path)  # the mock restarted: subscriptions are on disk
    assert set(restarted.subscriptions) == {stale.subscription_id, other.subscription_id}
    fresh = restarted.subscribe("city-system", "https://127.0.0.1:8443/cb", ["death", "birth"])
    # The SUT restarted and subscribed again: only its newest subscription is delivered to.
    assert [s.subscription_id for s in restarted.recipients("death")] == [
        fresh.subscription_id, other.subscription_id]
    assert stale.subscription_id not in Notifier(state_dir=tmp_path).subscriptions
    narrower = restarted.subscribe("city-system", "https://127.0.0.1:8443/cb", ["birth"])
    assert next(s.subscription_id for s in restarted.recipients("death")) == fresh.subscription_id
    assert restarted.recipients("birth")[0].subscription_id == narrower.subscription_id
    assert (tmp_path / "subscriptions.json").stat().st_mode & 0o077 == 0  # holds secrets


def test_extra_trusted_ca_is_kept_and_used(tmp_path: Path, env: Any) -> None:
    state = env[0]
    notifier = Notifier(ca_path=str(state.pki.ca_path), state_dir=tmp_path)
    foreign = state.pki.foreign_ca_path
    assert notifier.trust(foreign.read_text()) == 1
    with pytest.raises(ValueError):
        notifier.trust("not a certificate")
    again = Notifier(ca_path=str(state.pki.ca_path), state_dir=tmp_path)
    context = again._verify()
    subjects = {str(c.get("subject")) for c in context.get_ca_certs()}
    assert len(subjects) == 2  # the national CA and the SUT's own CA


def test_delivery_reaches_a_system_with_its_own_server_ca(env: Any, tmp_path: Path) -> None:
    """End to end in one loop: an HTTPS receiver whose certificate the national CA did not issue
    gets the notification once its CA is trusted, and not before."""
    import ssl

    state = env[0]
    # A certificate from the second test CA stands in for the SUT's own server CA.
    issued = state.pki.issue("own-ca-receiver", kind="server", ca="foreign")
    received: list[bytes] = []

    async def scenario() -> list[str]:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(next(h for h in head.split(b"\r\n") if h.lower().startswith(
                b"content-length")).split(b":")[1])
            received.append(await reader.readexactly(length))
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            await writer.drain()
            writer.close()

        server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server_tls.load_cert_chain(issued.cert_path, issued.key_path)
        server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=server_tls)
        port = server.sockets[0].getsockname()[1]
        notifier = Notifier(ca_path=str(state.pki.ca_path), state_dir=tmp_path, max_attempts=1)
        notifier.subscribe("city-system", f"https://127.0.0.1:{port}/cb", ["death"])
        before = await notifier.emit("death", "001090000001", {})
        notifier.trust(state.pki.foreign_ca_path.read_text())
        after = await notifier.emit("death", "001090000001", {})
        await asyncio.sleep(0.1)
        server.close()
        return [before[0].status, after[0].status]

    assert asyncio.run(scenario()) == ["failed", "delivered"]
    assert len(received) == 1
