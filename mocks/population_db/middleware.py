"""Pure-ASGI middleware around the data app: body limit, injected faults, one audit entry per call.

Plain ASGI (not BaseHTTPMiddleware) because it runs on every request of the load tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

from popcert_npdb.faults import MAX_HOLD_MS, FaultSpec
from popcert_npdb.state import MockState


async def _buffer_body(receive: Any) -> tuple[bytes, Any]:
    """Read the whole (already size-limited) body, and a ``receive`` that replays it."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"", receive
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    replayed = [False]

    async def replay() -> dict[str, Any]:
        if not replayed[0]:
            replayed[0] = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # type: ignore[no-any-return]

    return body, replay

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


def _request_id(scope: Scope) -> str | None:
    return next((v.decode("latin-1")[:128] for k, v in scope["headers"] if k == b"x-request-id"),
                None)


def _error_body(code: str, message: str, request_id: str | None) -> bytes:
    return json.dumps({"error": code, "message": message, "request_id": request_id}).encode()


class BodyTooLarge(Exception):
    pass


def _declared_length(scope: Scope) -> int | None:
    """Content-Length; -1 for a chunked body (no length declared); None for no body at all."""
    chunked = False
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
        if name == b"transfer-encoding":
            chunked = True
    return -1 if chunked else None


def limit_receive(receive: Any, limit: int, on_exceeded: Any,
                  complete: list[bool] | None = None) -> Any:
    """``receive`` that stops a body at ``limit`` bytes while it streams (chunked uploads declare
    no length): past the limit it answers once (``on_exceeded``) and tells the app the client left.
    ``complete[0]`` turns True once the whole body has been read."""
    received = [0]

    async def limited() -> dict[str, Any]:
        if received[0] > limit:
            return {"type": "http.disconnect"}
        message = await receive()
        if message["type"] == "http.request":
            received[0] += len(message.get("body", b""))
            if received[0] > limit:
                await on_exceeded()
                return {"type": "http.disconnect"}
            if complete is not None and not message.get("more_body", False):
                complete[0] = True
        return message  # type: ignore[no-any-return]

    return limited


async def send_too_large(send: Any, limit: int, request_id: str | None) -> None:
    # Connection: close, so the server stops reading the rest of the upload.
    await _send_json(send, 413, _error_body("body_too_large",
                                            f"request body over {limit} bytes", request_id),
                     [(b"connection", b"close")])


class BodyLimit:
    """Bodies over ``limit`` bytes get 413, judged from Content-Length before a byte is read and
    while the body streams; no app behind it ever holds more than ``limit`` bytes of a body."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _declared_length(scope)
        if declared is not None and declared > self.limit:
            await send_too_large(send, self.limit, None)
            return
        if declared != -1:  # the server never passes on more than the declared length
            await self.app(scope, receive, send)
            return
        answered = [False]

        async def exceeded() -> None:
            answered[0] = True
            await send_too_large(send, self.limit, None)

        async def send_unless_answered(message: dict[str, Any]) -> None:
            if not answered[0]:
                await send(message)

        try:
            await self.app(scope, limit_receive(receive, self.limit, exceeded),
                           send_unless_answered)
        except Exception:
            if not answered[0]:
                raise


def people_of(state: MockState, path: str, body: bytes) -> tuple[str, ...]:
    """The personal ids a data call is about, before the app runs (for run-scoped faults)."""
    if path.startswith("/npdb/v1/citizens/"):
        return (path.split("/")[4],)
    if path.startswith("/npdb/v1/households/"):
        household = state.population.household(path.split("/")[4]) \
            if len(path.split("/")) > 4 else None
        return tuple(pid for pid, _ in household.members) if household else ()
    if body:
        try:
            payload = json.loads(body)
        except (ValueError, RecursionError):
            return ()
        if isinstance(payload, dict) and isinstance(payload.get("personal_id"), str):
            return (payload["personal_id"][:64],)
    return ()


class AuditAndFaults:
    """Faults first, then the app; the audit entry is journalled before the response starts,
    so an answered call is never missing from the audit log, whatever happens to the process."""

    def __init__(self, app: Any, state: MockState, max_body_bytes: int = 64 * 1024) -> None:
        self.app = app
        self.state = state
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        # ts is when the call started, so a call held open by a timeout fault is not mistaken
        # for a later call.
        started_at = time.time()
        audit: dict[str, Any] = {}
        scope["popcert.audit"] = audit
        state = self.state
        scope["popcert.state"] = state
        box = [0, False, False]  # status, audit entry written, answered by the body limit
        path = scope["path"]

        def write_audit() -> None:
            box[1] = True
            people = audit.get("personal_ids")
            state.audit.record(
                ts=started_at, method=scope["method"], endpoint=endpoint_of(path), path=path,
                status=box[0], latency_ms=(time.perf_counter() - started) * 1000,
                run_id=state.runs.run_of(people) if state.runs.claims else None,
                **{k: audit.get(k) for k in ("client_id", "purpose_code", "request_id",
                                              "personal_ids", "fields_requested",
                                              "fields_returned", "auth_method")})

        async def send_and_capture(message: dict[str, Any]) -> None:
            if box[2]:
                return  # the body limit answered (413 while streaming): drop the app's answer
            if message["type"] == "http.response.start":
                box[0] = message["status"]
                try:
                    write_audit()  # write-ahead: journalled before the client sees an answer
                except OSError:  # disk full: fail closed, the app's answer is dropped
                    box[0], box[2] = 500, True
                    await _send_json(send, 500, _error_body(
                        "audit_unavailable", "the audit log cannot be written; call refused",
                        _request_id(scope)), [(b"connection", b"close")])
                    return
                if not body_read[0]:  # answered mid-upload: do not read the rest of it
                    message = {**message, "headers": [*message.get("headers", ()),
                                                      (b"connection", b"close")]}
            await send(message)

        limit = self.max_body_bytes
        declared = _declared_length(scope)
        body_read = [declared != -1]  # a declared body is the server's to drain (<= limit)
        if declared is not None and declared > limit:
            await send_too_large(send_and_capture, limit, None)
            return
        if declared == -1:
            async def exceeded() -> None:
                if not box[1]:
                    box[0] = 413
                    with contextlib.suppress(OSError):  # a 413 carries no data: sent anyway
                        write_audit()
                    box[2] = True
                    await send_too_large(send, limit, None)
                box[2] = True
            receive = limit_receive(receive, limit, exceeded, body_read)
        try:
            fault = None
            if state.faults._rules:
                people: tuple[str, ...] = ()
                if state.faults.needs_people(path):
                    body, receive = await _buffer_body(receive)
                    people = people_of(state, path, body)
                    audit.setdefault("personal_ids", list(people))
                fault = state.faults.pick(path, people, state.runs.claims.get)
            if fault is None or not await self._apply(fault, scope, send_and_capture):
                await self.app(scope, receive, send_and_capture)
        except Exception:
            if not box[2]:
                raise  # a real failure: uvicorn logs it (the app answered 500 already)
        finally:
            if not box[1]:  # no answer was sent (a reset, a disconnect): still audited
                with contextlib.suppress(OSError):  # disk full: counted in the audit outage
                    write_audit()

    async def _apply(self, fault: FaultSpec, scope: Scope, send: Any) -> bool:
        """Apply a fault; True if it produced the whole response (the app must not run)."""
        request_id = _request_id(scope)
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
