"""Pure-ASGI middleware around the data app: injected faults first, then one audit entry per call.

Plain ASGI (not BaseHTTPMiddleware) because it runs on every request of the load tests.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from mocks.population_db.faults import MAX_HOLD_MS, FaultSpec
from mocks.population_db.state import MockState

Scope = dict[str, Any]


def endpoint_of(path: str) -> str:
    """The spec's path template for a concrete path (the audit log's ``endpoint``)."""
    if path.startswith("/npdb/v1/citizens/"):
        return ("/npdb/v1/citizens/{personal_id}/residence" if path.endswith("/residence")
                else "/npdb/v1/citizens/{personal_id}")
    if path.startswith("/npdb/v1/households/"):
        return "/npdb/v1/households/{household_id}"
    return path


async def _send_json(send: Any, status: int, body: bytes,
                     headers: list[tuple[bytes, bytes]] | None = None) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()), *(headers or [])]})
    await send({"type": "http.response.body", "body": body})


def _error_body(code: str, message: str, request_id: str | None) -> bytes:
    return json.dumps({"error": code, "message": message, "request_id": request_id}).encode()


class AuditAndFaults:
    def __init__(self, app: Any, state: MockState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        # The entry is written when the call ends; ts is when it started, so a call held open by
        # a timeout fault is not mistaken for a later call.
        started_at = time.time()
        audit: dict[str, Any] = {}
        scope["popcert.audit"] = audit
        scope["popcert.state"] = self.state
        status_box = [0]

        async def send_and_capture(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status_box[0] = message["status"]
            await send(message)

        path = scope["path"]
        fault = self.state.faults.pick(path)
        try:
            if fault is None or not await self._apply(fault, scope, send_and_capture):
                await self.app(scope, receive, send_and_capture)
        finally:
            self.state.audit.record(
                ts=started_at, method=scope["method"], endpoint=endpoint_of(path), path=path,
                status=status_box[0], latency_ms=(time.perf_counter() - started) * 1000,
                **{k: audit.get(k) for k in ("client_id", "purpose_code", "request_id",
                                              "personal_ids", "fields_requested",
                                              "fields_returned", "auth_method")})

    async def _apply(self, fault: FaultSpec, scope: Scope, send: Any) -> bool:
        """Apply a fault; True if it produced the whole response (the app must not run)."""
        request_id = next((v.decode("latin-1") for k, v in scope["headers"]
                           if k == b"x-request-id"), None)
        if fault.kind == "latency":
            await asyncio.sleep(fault.latency_ms / 1000)
            return False
        if fault.kind == "status":
            await _send_json(send, fault.status, _error_body(
                "injected_fault", f"injected status {fault.status}", request_id),
                [(b"retry-after", str(fault.retry_after_s).encode())] if fault.status == 503 else [])
            return True
        if fault.kind == "timeout":
            await asyncio.sleep(min(fault.latency_ms or 30_000, MAX_HOLD_MS) / 1000)
            await _send_json(send, 503, _error_body("upstream_timeout", "injected timeout",
                                                    request_id))
            return True
        if fault.kind == "rate_limit":
            await _send_json(send, 429, _error_body("rate_limited", "injected rate limit",
                                                    request_id),
                             [(b"retry-after", str(fault.retry_after_s).encode())])
            return True
        if fault.kind == "malformed":
            await _send_json(send, 200, b'{"match": tru')
            return True
        if fault.kind == "reset":
            transport = scope.get("extensions", {}).get("popcert.transport")
            if transport is not None:
                transport.abort()  # RST instead of a response
                await asyncio.sleep(0)
                return True
            await _send_json(send, 503, _error_body("injected_fault", "reset unavailable",
                                                    request_id))
            return True
        return False
