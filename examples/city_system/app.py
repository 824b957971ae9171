"""The connection API of the reference city system (Starlette).

Order of checks on a protected operation: authenticate (401) → per-client rate limit (429) →
scope (403) → input (400/413/415/422) → object access (404). Error bodies are the spec's ``Error``
and never carry tracebacks or secrets.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import json
import logging
import random
import time
import traceback
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from popcert_city import spec
from popcert_city.auth import AuthError, Caller, TokenValidator, require_scope
from popcert_city.defects import active
from popcert_city.npdb_client import NpdbClient
from popcert_city.ratelimit import RateLimiter
from popcert_city.store import DossierRecord, DossierStore
from popcert_city.webhook import SIGNATURE_HEADER, NotificationVerifier, WebhookError
from popcert_city.worker import Worker

log = logging.getLogger("city.app")
MAX_BODY_BYTES = 64 * 1024
IDEMPOTENCY_KEY_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-")
STATUS_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                405: "bad_request", 409: "conflict", 413: "payload_too_large",
                415: "unsupported_media_type", 422: "validation_error", 429: "rate_limited",
                503: "unavailable"}


_SEQUENCE = itertools.count(time.time_ns() << 32)  # auth.sequential_dossier_id only


def _new_dossier_id() -> str:
    """A random UUID v4 (the spec's "Unguessable identifier"), or under the defect a counter
    with the version-4 and variant bits set: it parses as v4, yet the next id is the last + 1."""
    if active("auth.sequential_dossier_id"):
        return str(uuid.UUID(int=next(_SEQUENCE) % (1 << 128), version=4))
    return str(uuid.uuid4())


def _not_json() -> ApiError:
    """The spec's BadRequest for a body that is not JSON (422 only under its switch)."""
    return ApiError(422 if active("auth.malformed_json_422") else 400,
                    "request body is not valid JSON")


class ApiError(Exception):
    def __init__(self, status: int, message: str, *, fields: list[str] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.fields, self.headers = status, message, fields, headers or {}


def error_response(status: int, message: str, *, fields: list[str] | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    request_id = str(uuid.uuid4())
    body: dict[str, Any] = {"error": STATUS_CODES.get(status, "bad_request"), "message": message,
                            "request_id": request_id}
    if fields is None and status == 404 and active("auth.error_fields_everywhere"):
        fields = ["dossier_id"]
    if fields is not None:
        body["fields"] = fields
    all_headers = {"X-Request-Id": request_id, **(headers or {})}
    if status == 401 and not active("auth.challenge_missing"):
        all_headers.setdefault("WWW-Authenticate", 'Bearer realm="connection-api"')
    return JSONResponse(body, status_code=status, headers=all_headers)


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def render_dossier(record: DossierRecord) -> dict[str, Any]:
    applicant = dict(record.applicant)
    if active("schema.dob_wrong_format"):
        y, m, d = applicant["date_of_birth"].split("-")
        applicant["date_of_birth"] = f"{d}/{m}/{y}"
    return {"dossier_id": record.dossier_id, "procedure_code": record.procedure_code,
            "status": record.status, "outcome": record.outcome, "reasons": record.reasons,
            "applicant": applicant, "created_at": iso(record.created_at), "updated_at": iso(record.updated_at)}


_SERIAL = asyncio.Lock()


class CityApi:
    """Request handlers; holds the collaborators built at start-up."""

    def __init__(self, *, store: DossierStore, validator: TokenValidator, limiter: RateLimiter,
                 verifier: NotificationVerifier, worker: Worker | None, npdb: NpdbClient | None,
                 base_url: str | None) -> None:
        self.store, self.validator, self.limiter = store, validator, limiter
        self.verifier, self.worker, self.npdb, self.base_url = verifier, worker, npdb, base_url

    async def _caller(self, request: Request, scope: str) -> Caller:
        if active("load.low_capacity"):
            # One request at a time, 60 ms each: about 16 requests/s whatever the hardware.
            async with _SERIAL:
                await asyncio.sleep(0.06)
        if active("load.errors_under_load") and random.random() < 0.05:
            raise ApiError(503, "temporarily unavailable", headers={"Retry-After": "1"})
        if scope == "dossier.submit" and not request.headers.get("authorization") \
                and active("conformance.missing_token_403"):
            # the scope judged before the token: no token reads as "lacks dossier.submit"
            raise ApiError(403, f"scope {scope} required")
        caller = await self.validator.authenticate(request.headers.get("authorization"))
        if not active("auth.no_rate_limit"):
            # one bucket per client; the defect shares one bucket between every client
            wait = self.limiter.take("*" if active("auth.global_rate_limit") else caller.client_id)
            if wait is not None:
                raise ApiError(429, "too many requests", headers={"Retry-After": str(wait)})
        if not (scope == "dossier.read" and active("auth.read_scope_not_enforced")):
            require_scope(caller, scope)
        return caller

    async def create_dossier(self, request: Request) -> Response:
        caller = await self._caller(request, "dossier.submit")
        key = request.headers.get("idempotency-key")
        if active("auth.idempotency_ignored"):
            key = None
        longest = 64 if active("conformance.rejects_valid_input") else 128  # spec: maxLength 128
        if key is not None and not (0 < len(key) <= longest and set(key) <= IDEMPOTENCY_KEY_CHARS):
            raise ApiError(400, "invalid Idempotency-Key header")
        raw = await _read_json_body(request, any_media_type=active("auth.dossier_any_media_type"))
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            if active("auth.leaky_errors"):  # the right status, the stack trace in its message
                raise ApiError(400, traceback.format_exc()[:500]) from exc  # Error.message: 500
            raise _not_json() from exc
        if active("conformance.server_error_on_bad_input") and _has_long_name(body):
            raise RuntimeError("full_name does not fit the column")
        invalid = spec.dossier_errors(body)
        if invalid:
            raise ApiError(400 if active("auth.validation_400") else 422, _invalid_message(body, invalid),
                           fields=invalid)
        body_hash = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
        if key is not None:
            # keys are per client: another client's key must never return its dossier
            owner = None if active("auth.idempotency_shared") else caller.client_id
            existing = self.store.by_idempotency_key(owner, key)
            if existing is None and active("auth.idempotency_tenant_conflict") \
                    and self.store.by_idempotency_key(None, key) is not None:
                raise ApiError(409, "Idempotency-Key already in use")  # tells another client the key exists
            if existing is not None:
                if existing.body_hash != body_hash:
                    raise ApiError(409, "Idempotency-Key reused with a different body")
                return self._created(existing)
        now = time.time()
        record = DossierRecord(
            dossier_id=_new_dossier_id(), client_id=caller.client_id, procedure_code=body["procedure_code"],
            status="received", outcome=None, reasons=[], applicant=body["applicant"], details=body["details"],
            body_hash=body_hash, idempotency_key=key, created_at=now, updated_at=now, attempts=0)
        self.store.insert(record)  # durable before any NPDB call
        if self.worker is not None:
            self.worker.wake()
        if active("load.slow_path"):
            await asyncio.sleep(0.4)
        return self._created(record)

    def _created(self, record: DossierRecord) -> Response:
        status = 200 if active("conformance.undocumented_status") else 201
        location = {} if active("auth.location_missing") else {
            "Location": f"/connection/v1/dossiers/{record.dossier_id}"}
        return JSONResponse(render_dossier(record), status_code=status, headers=location)

    async def get_dossier(self, request: Request) -> Response:
        caller = await self._caller(request, "dossier.read")
        dossier_id = request.path_params["dossier_id"]
        try:
            uuid.UUID(dossier_id)
        except ValueError as exc:
            raise ApiError(404, "dossier not found") from exc
        record = self.store.get(dossier_id)
        if record is not None and active("conformance.not_readable_after_create") \
                and time.time() - record.created_at < 2.0:
            record = None  # "eventually consistent": a just-created dossier is not there yet
        if record is not None and record.client_id != caller.client_id \
                and active("auth.foreign_dossier_403"):
            raise ApiError(403, "dossier belongs to another client")
        if record is None or (record.client_id != caller.client_id and not active("auth.bola")):
            raise ApiError(404, "dossier not found")  # another client's dossier does not exist for you
        if active("conformance.wrong_content_type"):
            return PlainTextResponse(json.dumps(render_dossier(record)))
        return JSONResponse(render_dossier(record))

    async def delete_dossier(self, request: Request) -> Response:
        """Only under auth.undocumented_delete: an operation the spec does not document."""
        caller = await self._caller(request, "dossier.submit")
        record = self.store.get(request.path_params["dossier_id"])
        if record is None or record.client_id != caller.client_id:
            raise ApiError(404, "dossier not found")
        self.store.delete(record.dossier_id)
        return JSONResponse(render_dossier(record))

    async def list_dossiers(self, request: Request) -> Response:
        caller = await self._caller(request, "dossier.read")
        status = request.query_params.get("status")
        if status is not None and status not in {"received", "processing", "pending_npdb", "completed", "rejected"}:
            raise ApiError(422, "invalid status filter", fields=["status"])
        raw_limit = request.query_params.get("limit", "20")
        if active("auth.list_limit_unchecked"):  # out of range: clamped instead of refused
            number = int(raw_limit) if raw_limit.lstrip("-").isdigit() else 20
            raw_limit = str(min(100, max(1, number)))
        if not raw_limit.isascii() or not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 100:
            raise ApiError(422, "limit must be an integer from 1 to 100", fields=["limit"])
        if active("conformance.slow_responses"):
            await asyncio.sleep(1.2)
        owner = None if active("auth.bola_list") else caller.client_id
        limit = min(int(raw_limit), 10) if active("auth.list_limit_capped") else int(raw_limit)
        if active("auth.list_filter_ignored"):
            status = None
        if active("auth.list_oldest_first"):
            records = list(reversed(self.store.list_for(owner, status, 1_000_000)))[:limit]
        else:
            records = self.store.list_for(owner, status, limit)
        return JSONResponse({"items": [render_dossier(r) for r in records], "count": len(records)})

    async def notification(self, request: Request) -> Response:
        raw = await _read_body(request)
        self.verifier.verify(raw, request.headers.get(SIGNATURE_HEADER))
        # after the signature: an unauthenticated caller learns nothing about what is accepted
        if not active("auth.notification_any_media_type") and _media_type(request) != "application/json":
            raise ApiError(415, "body must be application/json")
        try:
            event = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise _not_json() from exc
        if active("auth.notification_schema_unchecked"):  # whatever JSON came, stored as strings
            fields = event if isinstance(event, dict) else {}
            event = {k: str(fields.get(k, "")) for k in ("event_id", "type", "personal_id")}
        elif invalid := spec.notification_errors(event):
            raise ApiError(422, "invalid notification", fields=invalid)
        fresh = self.store.record_event(event["event_id"], event["type"], event["personal_id"])
        if not fresh and active("auth.notification_redelivery_conflict"):
            raise ApiError(409, "event already processed")
        said = "accepted" if fresh or active("auth.notification_ack_always_accepted") else "duplicate"
        return JSONResponse({"event_id": event["event_id"], "status": said})

    async def health(self, request: Request) -> Response:
        state = "unknown" if self.npdb is None else (
            "up" if self.npdb.breaker.state == "closed" else "degraded")
        return JSONResponse({"status": "ok", "npdb": state})

    async def openapi(self, request: Request) -> Response:
        return JSONResponse(spec.published_spec(self.base_url))


async def _read_body(request: Request) -> bytes:
    if active("auth.no_body_limit"):
        return await request.body()
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise ApiError(413, "body larger than 64 KiB")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise ApiError(413, "body larger than 64 KiB")
        chunks.append(chunk)
    return b"".join(chunks)


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def _read_json_body(request: Request, *, any_media_type: bool = False) -> bytes:
    if _media_type(request) != "application/json" and not any_media_type:
        raise ApiError(415, "body must be application/json")
    return await _read_body(request)


def _invalid_message(body: Any, pointers: list[str]) -> str:
    """'invalid input'; under auth.validation_echoes_input also the offending string values,
    as a framework's default validation error does (a personal_id ends up in the error body)."""
    if not active("auth.validation_echoes_input"):
        return "invalid input"
    echoed = []
    for pointer in pointers:
        value: Any = body
        for part in pointer.strip("/").split("/") if pointer != "/" else []:
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, str):
            echoed.append(f"{pointer}: input {value!r} is not valid")
    return "; ".join(echoed)[:500] or "invalid input"


def _has_long_name(body: Any) -> bool:
    if isinstance(body, dict):
        return any((k == "full_name" and isinstance(v, str) and len(v) > 100) or _has_long_name(v)
                   for k, v in body.items())
    return False


Handler = Callable[[Request], Awaitable[Response]]


def guarded(handler: Handler) -> Handler:
    """Map domain errors to the spec's Error body; anything else is a 500 without details."""
    async def wrapper(request: Request) -> Response:
        try:
            response = await handler(request)
            if active("conformance.slow_every_response") and response.status_code < 400:
                await asyncio.sleep(0.6)  # a slow backend: every request that does work
            return response
        except ApiError as exc:
            if exc.status == 413 and active("auth.body_limit_html_413"):
                return HTMLResponse("<html><body><h1>413 Request Entity Too Large</h1></body></html>",
                                    status_code=413)
            return error_response(exc.status, exc.message, fields=exc.fields, headers=exc.headers)
        except (AuthError, WebhookError) as exc:
            return error_response(exc.status, exc.message)
        except Exception:
            log.exception("unhandled error")  # details go to the log, never to the caller
            return JSONResponse({"error": "internal", "message": "internal error",
                                 "request_id": str(uuid.uuid4())}, status_code=500)
    return wrapper


def by_method(handlers: dict[str, Handler]) -> Handler:
    async def dispatch(request: Request) -> Response:
        return await handlers[request.method if request.method in handlers else "GET"](request)
    return dispatch


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    headers = dict(exc.headers or {}) if isinstance(exc, HTTPException) else {}
    return error_response(status, "not found" if status == 404 else "method not allowed"
                          if status == 405 else "request error", headers=headers)


def build_app(api: CityApi, lifespan: Callable[[Starlette], contextlib.AbstractAsyncContextManager[None]]
              | None = None) -> Starlette:
    base = "/connection/v1"
    routes = [
        # one route per path so a 405 lists every documented method in Allow
        Route(f"{base}/dossiers", by_method({"POST": guarded(api.create_dossier),
                                             "GET": guarded(api.list_dossiers)}), methods=["GET", "POST"]),
        Route(f"{base}/dossiers/{{dossier_id}}", by_method({"GET": guarded(api.get_dossier),
                                                           "DELETE": guarded(api.delete_dossier)}),
              methods=["GET", "DELETE"] if active("auth.undocumented_delete") else ["GET"]),
        Route(f"{base}/notifications", guarded(api.notification), methods=["POST"]),
        Route(f"{base}/health", guarded(api.health), methods=["GET"]),
        Route("/openapi.json", guarded(api.openapi), methods=["GET"]),
        Route(f"{base}/openapi.json", guarded(api.openapi), methods=["GET"]),
    ]
    return Starlette(routes=routes, exception_handlers={HTTPException: _http_error}, lifespan=lifespan)
