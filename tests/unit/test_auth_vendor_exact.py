"""Issue 20's object-level status and undocumented methods against a second, independent
implementation of specs/connection/v1 written here from the spec (http.server, not the reference
system): compliant — with its own choices where the spec allows them (501 from http.server for a
method it knows nowhere, such as TRACE and HEAD) — it passes; each defect fails exactly its check,
including a DELETE that answers 405 but has deleted the dossier. A rate-limited SUT of its own:
per-client buckets pass AUTH-RATE-LIMIT, one bucket for every client fails it."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jwt
import pytest

from harness.checks import CheckResult, Status
from harness.health import is_inconclusive
from popcert_city.spec import dossier_errors
from popcert_npdb.tokens import TokenMinter
from tests.unit.auth_support import FakeNpdb, run_checks, serve

CHECKS = ("AUTH-OBJECT-LEVEL", "AUTH-UNDOCUMENTED-METHOD")
DEFECTS = {"foreign_403": "AUTH-OBJECT-LEVEL", "foreign_says_so": "AUTH-OBJECT-LEVEL",
           "delete_served": "AUTH-UNDOCUMENTED-METHOD",
           "delete_then_405": "AUTH-UNDOCUMENTED-METHOD"}
DOSSIERS = "/connection/v1/dossiers"


def vendor_handler(minter: TokenMinter, defects: frozenset[str]) -> type[BaseHTTPRequestHandler]:
    dossiers: dict[str, dict[str, Any]] = {}
    lock = threading.Lock()
    public = minter.signing_key.public_key()

    class Vendor(BaseHTTPRequestHandler):
        def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def _error(self, status: int, code: str, message: str,
                   headers: dict[str, str] | None = None) -> None:
            self._send(status, {"error": code, "message": message,
                                "request_id": str(uuid.uuid4())}, headers)

        def _caller(self) -> str | None:
            header = self.headers.get("authorization") or ""
            try:
                claims = jwt.decode(header.removeprefix("Bearer "), public, algorithms=["ES256"],
                                    audience="connection-api", issuer=minter.issuer)
            except jwt.PyJWTError:
                self._error(401, "unauthorized", "invalid token")
                return None
            return str(claims["client_id"])

        def _drain(self) -> bytes:
            return self.rfile.read(int(self.headers.get("content-length") or 0))

        def _not_allowed(self) -> None:
            self._drain()
            allow = {"/connection/v1/health": "GET", "/connection/v1/notifications": "POST",
                     DOSSIERS: "GET, POST"}.get(urlsplit(self.path).path, "GET")
            self._error(405, "bad_request", "method not allowed", {"Allow": allow})

        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            if path == "/connection/v1/health":
                self._send(200, {"status": "ok", "npdb": "unknown"})
                return
            if path == "/connection/v1/notifications":
                self._not_allowed()
                return
            client = self._caller()
            if client is None:
                return
            with lock:
                mine = [d for d in dossiers.values() if d["_owner"] == client]
                if path == DOSSIERS:
                    self._send(200, {"items": [_public(d) for d in mine], "count": len(mine)})
                    return
                wanted = path.rsplit("/", 1)[-1]
                found = dossiers.get(wanted)
            if found is not None and found["_owner"] == client:
                self._send(200, _public(found))
            elif found is not None and "foreign_403" in defects:
                self._error(403, "forbidden", "not your dossier")
            elif found is not None and "foreign_says_so" in defects:
                self._error(404, "not_found", "dossier of another client")
            else:
                self._error(404, "not_found", "dossier not found")

        def do_POST(self) -> None:
            path = urlsplit(self.path).path
            if path != DOSSIERS:
                self._not_allowed()
                return
            raw = self._drain()
            client = self._caller()
            if client is None:
                return
            body = json.loads(raw)
            if dossier_errors(body):
                self._error(422, "validation_error", "invalid input")
                return
            dossier = {"dossier_id": str(uuid.uuid4()), "procedure_code": body["procedure_code"],
                       "status": "received", "outcome": None, "reasons": [],
                       "applicant": body["applicant"], "created_at": "2026-01-01T00:00:00Z",
                       "updated_at": "2026-01-01T00:00:00Z", "_owner": client}
            with lock:
                dossiers[dossier["dossier_id"]] = dossier
            self._send(201, _public(dossier))

        def do_DELETE(self) -> None:
            wanted = urlsplit(self.path).path.rsplit("/", 1)[-1]
            if {"delete_served", "delete_then_405"} & defects and wanted in dossiers:
                client = self._caller()
                if client is None:
                    return
                with lock:
                    dossiers.pop(wanted, None)
                if "delete_served" in defects:
                    self.send_response(204)
                    self.end_headers()
                    return
            self._not_allowed()

        do_PUT = do_PATCH = _not_allowed  # HEAD and TRACE: http.server's own 501

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Vendor


def _public(dossier: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in dossier.items() if k != "_owner"}


@pytest.fixture
def vendor(tmp_path: Path) -> Callable[[frozenset[str]], dict[str, CheckResult]]:
    def run(defects: frozenset[str]) -> dict[str, CheckResult]:
        with serve(vendor_handler(FakeNpdb(tmp_path).minter(), defects)) as base_url:
            return run_checks(base_url, tmp_path, CHECKS, name="vendor")

    return run


def test_compliant_vendor_passes(vendor: Any) -> None:
    results = vendor(frozenset())
    assert {k: (r.status, r.summary) for k, r in results.items() if r.status != Status.PASS} == {}
    assert "405" in results["AUTH-UNDOCUMENTED-METHOD"].summary
    assert "501" in results["AUTH-UNDOCUMENTED-METHOD"].summary  # TRACE / HEAD, RFC 9110 §15.6.2


@pytest.mark.parametrize("defect", sorted(DEFECTS))
def test_vendor_defect_fails_exactly_its_check(vendor: Any, defect: str) -> None:
    results = vendor(frozenset({defect}))
    failed = {k for k, r in results.items() if r.status == Status.FAIL}
    assert failed == {DEFECTS[defect]}, {k: r.summary for k, r in results.items()}
    assert all(r.status == Status.PASS for k, r in results.items() if k not in failed)
    if defect == "delete_then_405":
        assert "is gone" in results[DEFECTS[defect]].summary


def limited_handler(minter: TokenMinter, shared: bool, rate: float = 10.0,
                    burst: float = 20.0) -> type[BaseHTTPRequestHandler]:
    """Reads under a token bucket per client (10/s, burst 20), or one bucket for every client."""
    buckets: dict[str, list[float]] = {}
    lock = threading.Lock()
    public = minter.signing_key.public_key()

    class Limited(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            token = (self.headers.get("authorization") or "").removeprefix("Bearer ")
            client = str(jwt.decode(token, public, algorithms=["ES256"], audience="connection-api",
                                    issuer=minter.issuer)["client_id"])
            now = time.monotonic()
            with lock:
                bucket = buckets.setdefault("*" if shared else client, [burst, now])
                bucket[0] = min(burst, bucket[0] + (now - bucket[1]) * rate)
                bucket[1] = now
                allowed = bucket[0] >= 1.0
                bucket[0] -= 1.0 if allowed else 0.0
            status, payload = (200, {"items": [], "count": 0}) if allowed else (
                429, {"error": "rate_limited", "message": "too many requests",
                      "request_id": str(uuid.uuid4())})
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            if not allowed:
                self.send_header("Retry-After", "1")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Limited


@pytest.mark.parametrize(("shared", "expected"), [(False, Status.PASS), (True, Status.FAIL)],
                         ids=["per-client", "global"])
def test_rate_limit_must_be_per_client(tmp_path: Path, shared: bool, expected: Status) -> None:
    with serve(limited_handler(FakeNpdb(tmp_path).minter(), shared)) as base_url:
        result = run_checks(base_url, tmp_path, ["AUTH-RATE-LIMIT"], name="vendor")["AUTH-RATE-LIMIT"]
    if is_inconclusive(result.status, result.summary):
        pytest.skip(f"host saturated: {result.summary[:300]}")
    assert result.status == expected, result.summary
    if shared:
        assert "not per client" in result.summary


def test_a_per_client_limit_too_tight_for_the_probe_is_no_verdict(tmp_path: Path) -> None:
    """portal-b refused during the burst and again without it: its own limit, not a shared one."""
    with serve(limited_handler(FakeNpdb(tmp_path).minter(), False, rate=2.0, burst=3.0)) as base_url:
        result = run_checks(base_url, tmp_path, ["AUTH-RATE-LIMIT"], name="vendor")["AUTH-RATE-LIMIT"]
    assert result.status == Status.ERROR, result.summary
    assert "also without it" in result.summary
