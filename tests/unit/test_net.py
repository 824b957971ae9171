"""Scope-safe HTTP: traffic only to declared hosts, and a hostile SUT never crashes the harness.

SafeClient is exercised against real raw-socket servers on 127.0.0.1 (tests/conftest.py).
"""

from __future__ import annotations

import json
import socket
import threading
import time
import tracemalloc
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.checks import Evidence
from harness.errors import OutOfScopeError
from harness.net import (
    MAX_RESPONSE_BYTES,
    SafeClient,
    ScopeGuard,
    TlsMaterial,
    curl_command,
    tls_variables,
    token_variable,
)
from tests.conftest import (
    Behaviour,
    LoopbackServer,
    _read_request,
    garbage,
    hang,
    huge,
    redirect_to,
    reset,
    respond,
)
from tests.hostile import servers as hostile

ServerFactory = Callable[[Behaviour], LoopbackServer]
LOOPBACK = ScopeGuard(["127.0.0.1", "localhost"])
JWT = ("eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJwb3J0YWwiLCJzY29wZSI6ImRvc3NpZXIifQ"
       ".MEUCIQDx7Yb9kq3Zk0aQv2b7cVj1sX9mP5w8uQ1yT3rN6eLhBgIgK2dF")


def respond_with_headers(status: int, headers: dict[str, str], body: bytes) -> Behaviour:
    def behaviour(conn: socket.socket, stop: threading.Event) -> None:
        _read_request(conn)
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        conn.sendall(f"HTTP/1.1 {status} X\r\n{head}Content-Length: {len(body)}\r\n"
                     "Connection: close\r\n\r\n".encode() + body)
    return behaviour


def settle(server: LoopbackServer) -> int:
    time.sleep(0.3)  # give the accept loop a chance to see a connection, if one was made
    return server.connections


# --- ScopeGuard ---------------------------------------------------------------------------------

def test_scope_allows_declared_hosts_case_insensitively() -> None:
    guard = ScopeGuard(["127.0.0.1", "SUT.Example.VN"])
    assert guard.allows("127.0.0.1") and guard.allows("sut.example.vn")
    assert guard.check_url("https://SUT.example.vn:8443/x") == "https://SUT.example.vn:8443/x"


def test_localhost_is_an_alias_of_loopback() -> None:
    assert ScopeGuard(["127.0.0.1"]).allows("localhost")
    assert ScopeGuard(["::1"]).allows("localhost")
    assert not ScopeGuard(["10.0.0.1"]).allows("localhost")


def test_ipv6_literal_in_url() -> None:
    assert ScopeGuard(["::1"]).check_url("http://[::1]:8080/health")


def test_cidr_entries_cover_addresses_not_names() -> None:
    guard = ScopeGuard(["10.20.0.0/16", "fd00::/8"])
    assert guard.allows("10.20.3.4") and guard.allows("fd00::5")
    assert not guard.allows("10.21.0.1")
    assert not guard.allows("sut.example.vn")  # a name is never matched by a network


@pytest.mark.parametrize("url", ["https://10.0.0.5/", "http://127.0.0.2:80/", "https://evil.test/",
                                 "file:///etc/passwd", "not a url"])
def test_refused_hosts_raise_out_of_scope(url: str) -> None:
    with pytest.raises(OutOfScopeError):
        LOOPBACK.check_url(url)


# --- SafeClient against hostile servers ---------------------------------------------------------

def test_out_of_scope_request_never_opens_a_socket(loopback_server: ServerFactory) -> None:
    server = loopback_server(respond(200, "application/json", b"{}"))
    with SafeClient(ScopeGuard(["10.0.0.1"]), timeout_s=2) as client:
        exchange = client.request("GET", server.url + "/health")
    assert exchange.error is not None and "refused by scope" in exchange.error
    assert exchange.status is None
    assert settle(server) == 0


def test_hanging_server_gives_an_error_within_the_timeout(loopback_server: ServerFactory) -> None:
    server = loopback_server(hang)
    started = time.monotonic()
    with SafeClient(LOOPBACK, timeout_s=1) as client:
        exchange = client.request("GET", server.url + "/connection/v1/dossiers")
    # A generous bound: the point is that the call returns instead of hanging the run.
    assert time.monotonic() - started < 10
    assert exchange.error is not None and "Timeout" in exchange.error
    assert exchange.status is None


def test_connection_reset_is_an_error_not_an_exception(loopback_server: ServerFactory) -> None:
    server = loopback_server(reset)
    with SafeClient(LOOPBACK, timeout_s=2) as client:
        exchange = client.request("POST", server.url + "/x", json_body={"a": 1})
    assert exchange.error is not None
    assert exchange.status is None


def test_garbage_that_is_not_http_is_an_error(loopback_server: ServerFactory) -> None:
    server = loopback_server(garbage)
    with SafeClient(LOOPBACK, timeout_s=2) as client:
        exchange = client.request("GET", server.url + "/")
    assert exchange.error is not None
    evidence = exchange.evidence()
    assert "no usable response" in json.dumps([e.to_json() for e in evidence])


def test_connection_refused_is_an_error(loopback_server: ServerFactory) -> None:
    server = loopback_server(hang)
    url = server.url
    server.stop()
    with SafeClient(LOOPBACK, timeout_s=2) as client:
        exchange = client.request("GET", url)
    assert exchange.error is not None


def test_huge_body_is_truncated_at_max_bytes_without_memory_blow_up(
        loopback_server: ServerFactory) -> None:
    server = loopback_server(huge)
    tracemalloc.start()
    try:
        with SafeClient(LOOPBACK, timeout_s=5, max_bytes=200_000) as client:
            exchange = client.request("GET", server.url + "/citizens")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert exchange.status == 200 and exchange.error is None
    assert exchange.truncated is True
    assert len(exchange.body) == 200_000
    assert peak < 32 * 1024 * 1024, f"peak {peak} bytes for a 512 MiB body"
    assert exchange.json() is None  # a cut body is not JSON, and that is not an exception


def test_redirect_is_not_followed_by_default(loopback_server: ServerFactory) -> None:
    target = loopback_server(respond(200, "text/plain", b"elsewhere"))
    server = loopback_server(redirect_to(target.url + "/landing"))
    with SafeClient(LOOPBACK, timeout_s=2) as client:
        exchange = client.request("GET", server.url + "/start")
    assert exchange.status == 302 and exchange.error is None
    assert exchange.headers["location"] == target.url + "/landing"
    assert exchange.url == server.url + "/start"
    assert settle(target) == 0


def test_redirect_to_an_out_of_scope_host_is_refused(loopback_server: ServerFactory) -> None:
    # Scope holds the name localhost only; 127.0.0.1 (same machine, other name) is out of scope.
    target = loopback_server(respond(200, "text/plain", b"elsewhere"))
    server = loopback_server(redirect_to(target.url + "/landing"))
    with SafeClient(ScopeGuard(["localhost"]), timeout_s=2) as client:
        exchange = client.request("GET", f"http://localhost:{server.port}/start",
                                  follow_redirects=3)
    assert exchange.error is not None and "redirect refused by scope" in exchange.error
    assert settle(target) == 0


def test_redirect_within_scope_is_followed_when_asked(loopback_server: ServerFactory) -> None:
    target = loopback_server(respond(200, "text/plain", b"landed"))
    server = loopback_server(redirect_to(target.url + "/landing"))
    with SafeClient(LOOPBACK, timeout_s=2) as client:
        exchange = client.request("GET", server.url + "/start", follow_redirects=1)
    assert exchange.status == 200 and exchange.text == "landed"
    assert exchange.url == target.url + "/landing"


def test_html_and_script_are_kept_as_text(loopback_server: ServerFactory) -> None:
    page = b"<html><script>alert(document.cookie)</script>\xff</html>"
    server = loopback_server(respond(500, "text/html; charset=utf-8", page))
    with SafeClient(LOOPBACK, timeout_s=2) as client:
        exchange = client.request("GET", server.url + "/")
    assert exchange.status == 500 and exchange.content_type == "text/html"
    assert "<script>alert(document.cookie)</script>" in exchange.text
    assert exchange.json() is None
    response = exchange.evidence()[1].to_json()
    assert "<script>" in response["data"]["body"]  # escaping is the renderer's job, not ours


def test_exchange_evidence_redacts_the_request_token(loopback_server: ServerFactory) -> None:
    server = loopback_server(respond(200, "application/json", b'{"ok": true}'))
    with SafeClient(LOOPBACK, timeout_s=2) as client:
        exchange = client.request("GET", server.url + "/x",
                                  headers={"Authorization": f"Bearer {JWT}"})
    assert exchange.json() == {"ok": True}
    dumped = json.dumps([e.to_json() for e in exchange.evidence()])
    assert JWT.split(".")[1] not in dumped


# --- reproduction commands ----------------------------------------------------------------------

def test_curl_command_is_redacted_through_evidence(tmp_path: Path) -> None:
    tls = TlsMaterial(tmp_path / "ca.pem", tmp_path / "portal.pem", tmp_path / "portal.key")
    command = curl_command("post", "https://127.0.0.1:8443/connection/v1/dossiers",
                           {"Authorization": f"Bearer {JWT}"}, {"procedure_code": "1.001193"}, tls)
    assert command.startswith("curl -sS -X POST")
    assert '--cacert "$CA_BUNDLE" --cert "$CLIENT_CERT" --key "$CLIENT_KEY"' in command
    assert str(tmp_path) not in command  # no path of this disk: each file is a variable
    assert JWT in command  # the raw command is for the operator; storage goes through Evidence
    stored = json.dumps(Evidence.reproduction(command).to_json())
    assert JWT.split(".")[1] not in stored and JWT.split(".")[2] not in stored
    assert "1.001193" in stored


# --- hostile servers of issue 12 (tests/hostile/servers.py) -------------------------------------

@pytest.mark.parametrize("encoding", ["gzip, gzip", "deflate", "br", "gzip, br"])
def test_compression_bomb_is_cut_while_decoding(encoding: str) -> None:
    # A few KB on the wire, 256 MiB decoded: the client must stop at max_bytes, not inflate it.
    tracemalloc.start()
    try:
        with hostile.compression_bomb(encoding, 1 << 28) as sut, \
                SafeClient(LOOPBACK, timeout_s=5) as client:
            exchange = client.request("GET", sut.url + "/connection/v1/dossiers")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert exchange.status == 200 and exchange.error is None
    assert exchange.truncated is True and len(exchange.body) == MAX_RESPONSE_BYTES
    assert exchange.body == bytes(MAX_RESPONSE_BYTES)  # decoded, not the compressed bytes
    assert peak < 32 * 1024 * 1024, f"peak {peak} bytes decoding a 256 MiB {encoding} bomb"


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "gzip, gzip"])
def test_small_compressed_bodies_decode_exactly(encoding: str) -> None:
    with hostile.compression_bomb(encoding, 200_000) as sut, \
            SafeClient(LOOPBACK, timeout_s=5) as client:
        exchange = client.request("GET", sut.url + "/")
    assert exchange.error is None and exchange.truncated is False
    assert exchange.body == bytes(200_000)


def test_raw_deflate_is_decoded_too(loopback_server: ServerFactory) -> None:
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    body = packer.compress(b'{"ok": true}') + packer.flush()
    server = loopback_server(respond_with_headers(200, {"Content-Encoding": "deflate"}, body))
    with SafeClient(LOOPBACK, timeout_s=2) as client:
        exchange = client.request("GET", server.url + "/")
    assert exchange.json() == {"ok": True}


def test_a_long_stack_of_codings_is_refused(loopback_server: ServerFactory) -> None:
    server = loopback_server(respond_with_headers(
        200, {"Content-Encoding": "gzip, gzip, gzip, gzip, gzip, gzip"}, b"x"))
    with SafeClient(LOOPBACK, timeout_s=2) as client:
        exchange = client.request("GET", server.url + "/")
    assert exchange.error is not None and "Content-Encoding stacks 6 codings" in exchange.error


def test_endless_body_is_cut_at_max_bytes() -> None:
    with hostile.endless_body() as sut, SafeClient(LOOPBACK, timeout_s=5) as client:
        exchange = client.request("GET", sut.url + "/")
    assert exchange.status == 200 and exchange.truncated is True
    assert len(exchange.body) == MAX_RESPONSE_BYTES


def test_slowloris_cannot_stretch_a_request_beyond_its_deadline() -> None:
    # One byte every 0.5 s never trips a 2 s idle timeout; the whole head would take ~50 s.
    with hostile.slowloris(interval_s=0.5) as sut, \
            SafeClient(LOOPBACK, timeout_s=2, deadline_s=2) as client:
        started = time.monotonic()
        exchange = client.request("GET", sut.url + "/connection/v1/dossiers")
        elapsed = time.monotonic() - started
    assert sut.hits == 1
    assert exchange.status is None and exchange.error is not None
    assert "deadline" in exchange.error
    assert elapsed < 8, f"a 2 s deadline took {elapsed:.1f} s"


@pytest.mark.parametrize("status", [302, 307])
def test_redirect_out_of_scope_sends_nothing_there(status: int) -> None:
    dossier = {"personal_id": "001099012345", "full_name": "Nguyễn Văn A"}
    with hostile.redirect_out_of_scope(status) as sut, \
            SafeClient(ScopeGuard(sut.scope), timeout_s=2) as client:
        kept = client.request("POST", sut.url + "/connection/v1/dossiers", json_body=dossier)
        asked = client.request("POST", sut.url + "/connection/v1/dossiers", json_body=dossier,
                               follow_redirects=5)
        time.sleep(0.2)
        assert sut.elsewhere is not None and sut.elsewhere.hits == 0
        assert sut.hits == 2
    assert kept.status == status and kept.error is None
    notes = [e.to_json() for e in kept.evidence() if e.title == "redirect not followed"]
    assert len(notes) == 1 and "/stolen" in notes[0]["data"]["text"]
    assert asked.error is not None and "redirect refused by scope" in asked.error


def test_https_to_http_redirect_is_refused_even_within_scope() -> None:
    with hostile.https_downgrade() as sut, \
            SafeClient(ScopeGuard(sut.scope), TlsMaterial(sut.ca_path), timeout_s=2) as client:
        exchange = client.request("GET", sut.url + "/connection/v1/dossiers",
                                  headers={"Authorization": f"Bearer {JWT}"},
                                  follow_redirects=5)
        time.sleep(0.2)
        assert sut.elsewhere is not None and sut.elsewhere.hits == 0
    assert exchange.error is not None and "https to http" in exchange.error


def test_proxy_variables_do_not_route_sut_traffic(monkeypatch: pytest.MonkeyPatch) -> None:
    with hostile.recorder() as proxy, hostile.recorder() as sut:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.setenv("ALL_PROXY", proxy.url)
        with SafeClient(LOOPBACK, timeout_s=2) as client:
            exchange = client.request("GET", sut.url + "/health")
        assert exchange.status == 200 and sut.hits == 1 and proxy.hits == 0


def test_a_reproduction_names_its_variables_and_shows_only_declared_forgeries(tmp_path: Path) -> None:
    tls = TlsMaterial(tmp_path / "ca.pem", tmp_path / "portal.pem", tmp_path / "portal.key",
                      cert_kind="expired")
    forged = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJwb3J0YWwifQ."
    command = curl_command("GET", "https://127.0.0.1:8443/x", {"Authorization": f"Bearer {forged}"},
                           None, tls)
    shown = Evidence.reproduction(command, variables=tls_variables(tls), shown=[forged]).data
    assert f"'Authorization: Bearer {forged}'" in shown["command"]  # what was accepted, as sent
    named = {v["name"]: v["get"] for v in shown["variables"]}
    assert named == {"CA_BUNDLE": "popcert mock credential ca",
                     "CLIENT_CERT": "popcert mock credential cert --client portal --kind expired",
                     "CLIENT_KEY": "popcert mock credential key --client portal --kind expired"}
    hidden = Evidence.reproduction(command, variables=tls_variables(tls)).data["command"]
    assert forged not in hidden  # not declared shown: redacted like any credential
    genuine = curl_command("GET", "https://h/x", {"Authorization": "Bearer $TOKEN"})
    token = Evidence.reproduction(genuine, variables=[token_variable("portal-b", ["dossier.read"])])
    assert '-H "Authorization: Bearer $TOKEN"' in token.data["command"]
    assert token.data["variables"][0]["get"] == (
        "popcert mock credential token --client portal-b --scope dossier.read")
