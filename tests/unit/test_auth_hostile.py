"""The auth checks against scripted SUTs on 127.0.0.1 (port 0): a hostile SUT (reset, garbage,
hang) gives ``error`` with evidence, never an exception; an accept-everything SUT fails; a SUT
that only *fetches* a jku URL fails AUTH-JWT-JKU although it refuses the token.

Check functions are called directly (not through the engine, which would turn a crash into error).
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import jwt
import pytest

from harness.checks import Status, SuiteUnavailable
from harness.health import is_inconclusive
from harness.registry import default_registry
from harness.suites.auth.context import NO_NPDB
from tests.unit.auth_support import (
    FakeNpdb,
    auth_context,
    run_checks,
    run_context,
    serve,
)

AUTH_CHECKS = default_registry().for_suite("auth")


def test_without_the_mock_npdb_the_suite_is_unavailable(tmp_path: Path) -> None:
    run = run_context("http://127.0.0.1:9", tmp_path, npdb=None)
    with pytest.raises(SuiteUnavailable) as unavailable, auth_context(run):
        pass
    assert unavailable.value.summary == NO_NPDB
    assert unavailable.value.evidence


@pytest.fixture
def raw_server() -> Iterator[Callable[[Callable[[socket.socket], None]], str]]:
    """A TCP server answering each connection with a scripted behaviour."""
    stop = threading.Event()
    sockets: list[socket.socket] = []

    def start(behaviour: Callable[[socket.socket], None]) -> str:
        listener = socket.create_server(("127.0.0.1", 0))
        listener.settimeout(0.2)
        sockets.append(listener)

        def accept_loop() -> None:
            while not stop.is_set():
                try:
                    conn, _ = listener.accept()
                except OSError:
                    continue
                threading.Thread(target=behaviour, args=(conn,), daemon=True).start()

        threading.Thread(target=accept_loop, daemon=True).start()
        return f"http://127.0.0.1:{listener.getsockname()[1]}"

    yield start
    stop.set()
    for listener in sockets:
        listener.close()


def _reset(conn: socket.socket) -> None:
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()  # RST instead of FIN


def _garbage(conn: socket.socket) -> None:
    conn.recv(65536)
    conn.sendall(b"\x00\xff\xfeNOT HTTP AT ALL\r\n\r\n" * 10)
    conn.close()


def _hang(conn: socket.socket) -> None:
    threading.Event().wait(3.0)  # longer than the client's timeout, bounded for the test
    conn.close()


@pytest.mark.parametrize("behaviour", [_reset, _garbage, _hang], ids=["reset", "garbage", "hang"])
def test_hostile_sut_gives_error_with_evidence(raw_server: Any, behaviour: Any,
                                               tmp_path: Path) -> None:
    results = run_checks(raw_server(behaviour), tmp_path, timeout_s=0.5)
    for check_id, result in results.items():
        if check_id.startswith("AUTH-MTLS-"):
            assert result.status == Status.SKIP
            continue
        assert result.status == Status.ERROR, (check_id, result.summary)
        assert result.evidence or "admin API" in result.summary, check_id


class _Scripted(BaseHTTPRequestHandler):
    """An HTTP SUT whose token validation is given by the test."""

    validate: Callable[[str | None], int] = staticmethod(lambda token: 200)  # type: ignore

    def _answer(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        if length:
            self.rfile.read(length)
        header = self.headers.get("authorization") or ""
        token = header.removeprefix("Bearer ") if header else None
        status = type(self).validate(token)
        body = json.dumps({"items": [], "count": 0, "dossier_id": "x"}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def http_sut() -> Iterator[Callable[[Callable[[str | None], int]], str]]:
    with ExitStack() as servers:

        def start(validate: Callable[[str | None], int]) -> str:
            handler = type("Handler", (_Scripted,), {"validate": staticmethod(validate)})
            return servers.enter_context(serve(handler))

        yield start


def test_accept_everything_sut_fails_the_token_checks(http_sut: Any, tmp_path: Path) -> None:
    results = run_checks(http_sut(lambda token: 200), tmp_path)
    token_checks = [c.id for c in AUTH_CHECKS if c.id.startswith(("AUTH-JWT-", "AUTH-TOKEN-"))]
    for check_id in token_checks:
        assert results[check_id].status == Status.FAIL, (check_id, results[check_id].summary)
    rate_limit = results["AUTH-RATE-LIMIT"]
    # "no 429" is inconclusive, never a pass, when popcert was saturated during the burst
    assert rate_limit.status == Status.FAIL \
        or is_inconclusive(rate_limit.status, rate_limit.summary), rate_limit.summary
    assert rate_limit.measurements["requests"] <= 400


def test_refuse_everything_sut_is_not_a_pass(http_sut: Any, tmp_path: Path) -> None:
    results = run_checks(http_sut(lambda token: 401), tmp_path)
    for check_id, result in results.items():
        assert result.status in (Status.ERROR, Status.SKIP), (check_id, result.summary)


def test_sut_that_fetches_jku_fails_even_when_it_refuses(http_sut: Any, tmp_path: Path) -> None:
    minter = FakeNpdb(tmp_path).minter()
    public = minter.signing_key.public_key()

    def validate(token: str | None) -> int:
        if not token:
            return 401
        try:
            header = jwt.get_unverified_header(token)
        except jwt.DecodeError:
            return 401
        if "jku" in header:  # the defect: fetch the caller-chosen key set, then refuse anyway
            urllib.request.urlopen(header["jku"], timeout=2).read()
            return 401
        try:
            jwt.decode(token, public, algorithms=["ES256"], audience="connection-api",
                       issuer=minter.issuer)
        except jwt.PyJWTError:
            return 401
        return 200

    results = run_checks(http_sut(validate), tmp_path)
    jku = results["AUTH-JWT-JKU"]
    assert jku.status == Status.FAIL and "fetched" in jku.summary
    assert results["AUTH-JWT-ALG-NONE"].status == Status.PASS


class _FrameworkStyle(BaseHTTPRequestHandler):
    """A vendor-style SUT whose 422 is a web framework's default: each invalid field with its
    ``input`` (pydantic/FastAPI), JSON with non-ASCII escaped — unless ``echo`` is off."""

    echo = True

    def _send(self, status: int, payload: Any) -> None:
        body = json.dumps(payload).encode()  # ensure_ascii: a Vietnamese name arrives \\u-escaped
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self._send(200, {"items": [], "count": 0})

    def do_POST(self) -> None:
        from popcert_city.spec import dossier_errors

        raw = self.rfile.read(int(self.headers.get("content-length") or 0))
        try:
            body = json.loads(raw)
        except ValueError:
            self._send(400, {"detail": "invalid JSON"})
            return
        pointers = dossier_errors(body)
        if not pointers:
            self._send(201, {"dossier_id": "3f1c2a9e-8b7d-4c6e-9a1b-2d3e4f5a6b7c"})
            return
        detail = []
        for pointer in pointers:
            value: Any = body
            for part in [p for p in pointer.split("/") if p]:
                value = value.get(part) if isinstance(value, dict) else None
            entry: dict[str, Any] = {"loc": ["body", *pointer.strip("/").split("/")],
                                     "msg": "Value error"}
            if type(self).echo and isinstance(value, str):
                entry["input"] = value
            detail.append(entry)
        self._send(422, {"detail": detail})

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.mark.parametrize("echo", [True, False], ids=["echoes-input", "paths-only"])
def test_framework_style_validation_errors_that_echo_citizen_data_fail(
        echo: bool, tmp_path: Path) -> None:
    handler = type("Handler", (_FrameworkStyle,), {"echo": echo})
    with serve(handler) as base_url:
        result = run_checks(base_url, tmp_path, ["AUTH-ERROR-LEAK"])["AUTH-ERROR-LEAK"]
    if echo:  # the old probes (a mistyped date of birth) never saw this one
        assert result.status == Status.FAIL, result.summary
        assert "citizen data" in result.summary and "is invalid" in result.summary
    else:
        assert result.status == Status.PASS, result.summary
        assert result.measurements["citizen_fields_probed"] >= 20
