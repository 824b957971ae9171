"""Issue 13's tenancy and scope checks against a second, independent implementation of
specs/connection/v1 (a small vendor-style server written here from the spec, not the reference
system): compliant, it passes — with its own choices where the spec allows them (200 for an
idempotent replay) — and each defect the trial found fails exactly its check."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest

from harness.checks import CheckResult, Status
from popcert_city.spec import dossier_errors
from popcert_npdb.tokens import TokenMinter
from tests.unit.auth_support import FakeNpdb, run_checks, serve

CHECKS = ("AUTH-SCOPE", "AUTH-BOLA-LIST", "AUTH-IDEMPOTENCY-TENANT", "AUTH-IDEMPOTENCY-REPLAY",
          "AUTH-TOKEN-MISSING")
DEFECTS = {"list_all": "AUTH-BOLA-LIST", "shared_keys": "AUTH-IDEMPOTENCY-TENANT",
           "ignore_keys": "AUTH-IDEMPOTENCY-REPLAY", "no_read_scope": "AUTH-SCOPE",
           # 401 where the spec's Forbidden says 403 ("The token lacks the scope this operation
           # needs"): an exact status, not one of the refusals
           "scope_401": "AUTH-SCOPE",
           # reads need a token, but a submission without one is taken as an anonymous client's
           "anonymous_submit": "AUTH-TOKEN-MISSING"}


def vendor_handler(minter: TokenMinter, defects: frozenset[str]) -> type[BaseHTTPRequestHandler]:
    dossiers: list[dict[str, Any]] = []
    keys: dict[tuple[str | None, str], dict[str, Any]] = {}
    lock = threading.Lock()
    public = minter.signing_key.public_key()

    class Vendor(BaseHTTPRequestHandler):
        def _send(self, status: int, payload: Any) -> None:
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _caller(self, scope: str) -> str | None:
            header = self.headers.get("authorization") or ""
            if not header and scope == "dossier.submit" and "anonymous_submit" in defects:
                return "anonymous"
            try:
                claims = jwt.decode(header.removeprefix("Bearer "), public, algorithms=["ES256"],
                                    audience="connection-api", issuer=minter.issuer)
            except jwt.PyJWTError:
                self._send(401, {"detail": "invalid token"})
                return None
            scopes = str(claims.get("scope", "")).split()
            if scope not in scopes and not (scope == "dossier.read" and "no_read_scope" in defects):
                # components.responses.Forbidden: "The token lacks the scope this operation
                # needs." (403; 401 is for a missing, invalid or expired token)
                self._send(401 if "scope_401" in defects else 403, {"detail": "insufficient scope"})
                return None
            return str(claims["client_id"])

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            client = self._caller("dossier.read")
            if client is None:
                return
            query = parse_qs(url.query)
            with lock:
                mine = [d for d in dossiers if d["_owner"] == client or "list_all" in defects]
            if url.path.rstrip("/") == "/connection/v1/dossiers":
                if "status" in query:
                    mine = [d for d in mine if d["status"] == query["status"][0]]
                items = [{k: v for k, v in d.items() if k != "_owner"}
                         for d in reversed(mine)][:int(query.get("limit", ["20"])[0])]
                self._send(200, {"items": items, "count": len(items)})
                return
            wanted = url.path.rsplit("/", 1)[-1]
            found = [d for d in mine if d["dossier_id"] == wanted and d["_owner"] == client]
            if found:
                self._send(200, {k: v for k, v in found[0].items() if k != "_owner"})
            else:
                self._send(404, {"detail": "not found"})

        def do_POST(self) -> None:
            client = self._caller("dossier.submit")
            raw = self.rfile.read(int(self.headers.get("content-length") or 0))
            if client is None:
                return
            body = json.loads(raw)
            if dossier_errors(body):
                self._send(422, {"detail": "invalid"})
                return
            key = self.headers.get("idempotency-key")
            scope_key = (None if "shared_keys" in defects else client, key or "")
            with lock:
                if key and "ignore_keys" not in defects and scope_key in keys:
                    existing = keys[scope_key]
                    if existing["_body"] != body:
                        self._send(409, {"detail": "key reused with another body"})
                    else:  # the same dossier again, as 200 (the spec allows any success here)
                        self._send(200, {k: v for k, v in existing.items()
                                         if k not in ("_owner", "_body")})
                    return
                dossier = {"dossier_id": str(uuid.uuid4()), "procedure_code": body["procedure_code"],
                           "status": "received", "outcome": None, "reasons": [],
                           "applicant": body["applicant"], "created_at": "2026-01-01T00:00:00Z",
                           "updated_at": "2026-01-01T00:00:00Z", "_owner": client}
                dossiers.append(dossier)
                if key:
                    keys[scope_key] = {**dossier, "_body": body}
            self._send(201, {k: v for k, v in dossier.items() if k != "_owner"})

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Vendor


@pytest.fixture
def vendor(tmp_path: Path) -> Callable[[frozenset[str]], dict[str, CheckResult]]:
    def run(defects: frozenset[str]) -> dict[str, CheckResult]:
        with serve(vendor_handler(FakeNpdb(tmp_path).minter(), defects)) as base_url:
            return run_checks(base_url, tmp_path, CHECKS, name="vendor")

    return run


def test_compliant_vendor_passes(vendor: Any) -> None:
    results = vendor(frozenset())
    assert {k: (r.status, r.summary) for k, r in results.items() if r.status != Status.PASS} == {}
    assert "refused with 403" in results["AUTH-SCOPE"].summary


@pytest.mark.parametrize("defect", sorted(DEFECTS))
def test_vendor_defect_fails_exactly_its_check(vendor: Any, defect: str) -> None:
    results = vendor(frozenset({defect}))
    failed = {k for k, r in results.items() if r.status == Status.FAIL}
    assert failed == {DEFECTS[defect]}, {k: r.summary for k, r in results.items()}
    assert all(r.status == Status.PASS for k, r in results.items() if k not in failed)
