"""The NPDB data port: token service, JWKS and the data API of specs/npdb/v1/openapi.yaml.

Every data call needs a bearer token (aud ``npdb``), ``X-Purpose-Code`` and ``X-Request-Id``;
responses carry only the fields allowed by scope ∩ purpose ∩ ``fields=`` (data minimisation).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any, NamedTuple

import jwt
import orjson
from pydantic import BaseModel, ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from popcert_npdb.middleware import AuditAndFaults
from popcert_npdb.notifications import EVENT_TYPES, is_loopback_url
from popcert_npdb.purposes import (
    CITIZEN_FIELDS,
    RESIDENCE_FIELDS,
    allowed_fields,
)
from popcert_npdb.state import MockState, error
from popcert_npdb.token_endpoint import token

MAX_BODY_BYTES = 64 * 1024


class Caller(NamedTuple):  # a tuple: built on every data call, cheaper than a frozen dataclass
    client_id: str
    scopes: frozenset[str]
    purpose_code: str
    request_id: str


class Denied(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


def _valid_pid(pid: str) -> bool:
    return len(pid) == 12 and pid.isascii() and pid.isdigit()


UUID_RE = re.compile(r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}")
_GRANT = "_popcert_grant"  # derived from a token's claims once, kept with the verifier's cache


def _grant(claims: dict[str, Any]) -> tuple[str, str, frozenset[str]]:
    """(client_id, auth_method prefix, scopes) of verified claims: a pure function of the token,
    memoised in the claims dict the verifier caches (its time claims are still checked per use)."""
    grant = claims.get(_GRANT)
    if grant is None:
        grant = claims[_GRANT] = (str(claims.get("client_id") or claims.get("sub")),
                                  f"bearer/{claims.get('auth_method', 'unknown')}",
                                  frozenset(str(claims.get("scope", "")).split()))
    return grant


def authorize(request: Request, scope_needed: tuple[str, ...]) -> Caller:
    """401 token, 400 headers, 429 rate, 403 scope/purpose; fills the audit entry as it goes."""
    # The middleware puts the state in the scope: a third of request.app.state.mock's cost.
    scope = request.scope
    state: MockState = scope["popcert.state"]
    audit: dict[str, Any] = scope["popcert.audit"]
    # Read the three headers straight from the ASGI scope (of a repeated header, the last one
    # counts): this runs on every data call.
    authorization = request_id = purpose = None
    for name, value in scope["headers"]:
        if name == b"authorization":
            authorization = value
        elif name == b"x-request-id":
            request_id = value.decode("latin-1")
        elif name == b"x-purpose-code":
            purpose = value.decode("latin-1")
    audit["request_id"] = request_id
    audit["purpose_code"] = purpose
    header = authorization.decode("latin-1") if authorization is not None else ""
    if not header[:7].lower() == "bearer ":
        raise Denied(error(401, "unauthorized", "a bearer access token is required",
                           request_id, {"WWW-Authenticate": 'Bearer realm="npdb"'}))
    try:
        claims = state.verifier.verify(header[7:].strip())
    except (jwt.InvalidTokenError, ValueError) as exc:
        raise Denied(error(401, "invalid_token", f"access token rejected: {exc}", request_id,
                           {"WWW-Authenticate": 'Bearer realm="npdb", error="invalid_token"'}))
    client_id, auth_method, scopes = _grant(claims)
    has_cert = bool(scope.get("extensions", {}).get("tls", {}).get("client_cert_chain"))
    audit["client_id"] = client_id
    audit["auth_method"] = auth_method + "+client_cert" if has_cert else auth_method
    if not request_id:
        raise Denied(error(400, "missing_request_id", "X-Request-Id header is required"))
    if UUID_RE.fullmatch(request_id) is None:
        raise Denied(error(400, "invalid_request_id", "X-Request-Id must be a UUID", None))
    if not purpose:
        raise Denied(error(400, "missing_purpose_code", "X-Purpose-Code header is required",
                           request_id))
    wait = state.rate_limit_wait(client_id)
    if wait > 0:
        raise Denied(error(429, "rate_limited", f"rate limit exceeded for {client_id}", request_id,
                           {"Retry-After": str(max(1, int(wait + 0.999)))}))
    if scopes.isdisjoint(scope_needed):
        raise Denied(error(403, "insufficient_scope",
                           f"token lacks scope {' or '.join(scope_needed)}", request_id))
    if purpose not in state.client_purposes(client_id):
        raise Denied(error(403, "purpose_not_allowed",
                           f"purpose code {purpose!r} is not allowed for {client_id}", request_id))
    return Caller(client_id, scopes, purpose, request_id)


Handler = Callable[[Request, Caller], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]


def _guarded(scopes: tuple[str, ...]) -> Callable[[Handler], Endpoint]:
    def wrap(handler: Handler) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            try:
                caller = authorize(request, scopes)
                return await handler(request, caller)
            except Denied as denied:
                return denied.response
        return endpoint
    return wrap


def _citizen_or_error(request: Request, caller: Caller) -> Any:
    state: MockState = request.app.state.mock
    pid = request.path_params["personal_id"]
    request.scope["popcert.audit"]["personal_ids"] = [pid]
    if not _valid_pid(pid):
        raise Denied(error(400, "invalid_personal_id",
                           "personal_id must be exactly 12 digits", caller.request_id))
    citizen = state.population.by_personal_id(pid)
    if citizen is None:
        raise Denied(error(404, "not_found", "no citizen with this personal_id", caller.request_id))
    return citizen


@_guarded(("citizen.read",))
async def get_citizen(request: Request, caller: Caller) -> Response:
    raw_fields = request.query_params.get("fields")
    requested = [f.strip() for f in raw_fields.split(",") if f.strip()] if raw_fields else []
    unknown = sorted(set(requested) - set(CITIZEN_FIELDS))
    audit = request.scope["popcert.audit"]
    audit["fields_requested"] = requested
    if unknown or (raw_fields is not None and not requested):
        return error(400, "invalid_fields", f"unknown field(s): {', '.join(unknown) or '(empty)'}",
                     caller.request_id)
    citizen = _citizen_or_error(request, caller)
    allowed = allowed_fields(caller.purpose_code, caller.scopes)
    wanted = set(requested) if requested else set(CITIZEN_FIELDS)
    record = citizen.to_dict()
    body = {k: record[k] for k in CITIZEN_FIELDS if k in allowed and k in wanted}
    audit["fields_returned"] = list(body)
    return JSONResponse(body)


@_guarded(("residence.read", "citizen.read"))
async def get_residence(request: Request, caller: Caller) -> Response:
    citizen = _citizen_or_error(request, caller)
    allowed = allowed_fields(caller.purpose_code, caller.scopes | {"residence.read"})
    record = citizen.to_dict()
    body = {"personal_id": citizen.personal_id,
            **{k: record[k] for k in sorted(RESIDENCE_FIELDS) if k in allowed}}
    request.scope["popcert.audit"]["fields_returned"] = list(body)
    return JSONResponse(body)


VERIFY_FIELDS = frozenset({"personal_id", "full_name", "date_of_birth"})
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _verify_body_problem(payload: Any) -> str | None:
    """Why the body is not {personal_id, full_name, date_of_birth} strings (hand-written: this
    is the hottest endpoint, and a pydantic model costs more than the lookup itself)."""
    if not isinstance(payload, dict) or payload.keys() != VERIFY_FIELDS:
        return "body must have exactly the fields personal_id, full_name, date_of_birth"
    personal_id, full_name, dob = (payload["personal_id"], payload["full_name"],
                                   payload["date_of_birth"])
    if not (isinstance(personal_id, str) and isinstance(full_name, str)
            and isinstance(dob, str)):
        return "personal_id, full_name and date_of_birth must be strings"
    if not 1 <= len(full_name) <= 200:
        return "full_name must have 1 to 200 characters"
    if not ISO_DATE.fullmatch(dob):
        return "date_of_birth must be a date YYYY-MM-DD"
    try:
        date.fromisoformat(dob)
    except ValueError:
        return "date_of_birth is not a calendar date"
    return None


_VERIFY_SCOPES = ("identity.verify",)
_VERIFY_REQUESTED = ["personal_id", "full_name", "date_of_birth"]  # audit lists: never mutated
_VERIFY_RETURNED = ["match", "mismatched_fields"]


def _verify_response(mismatched: tuple[str, ...]) -> Response:
    return _VERIFY_RESPONSES[mismatched]


# Every possible answer, built once. Sending a Starlette Response only reads its status, headers
# and body, and nothing downstream mutates them, so one object can answer many requests.
_VERIFY_RESPONSES: dict[tuple[str, ...], JSONResponse] = {
    m: JSONResponse({"match": not m, "mismatched_fields": list(m)})
    for m in ((), ("personal_id",), ("full_name",), ("date_of_birth",), ("full_name", "date_of_birth"))}


_NOT_JSON = object()


def _parse_json(raw: bytes) -> Any:
    """The JSON value of a body, or ``_NOT_JSON``. orjson first (a tenth of json.loads' cost on
    the hottest endpoint); what it refuses but JSON allows (integers beyond 64 bits, UTF-16
    bodies) falls back to json.loads, so only invalid JSON is ever called invalid."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        try:
            return json.loads(raw)
        # ValueError: invalid JSON, or an integer over Python's 4,300-digit limit;
        # RecursionError: nesting deeper than the parser's stack (orjson stops at 1,024).
        except (ValueError, RecursionError):
            return _NOT_JSON


def _norm_name(name: str) -> str:
    return " ".join(unicodedata.normalize("NFC", name).casefold().split())


async def verify_identity(request: Request) -> Response:
    # authorize() inline rather than through @_guarded: one coroutine less on the hottest path.
    try:
        caller = authorize(request, _VERIFY_SCOPES)
    except Denied as denied:
        return denied.response
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        return error(413, "body_too_large", "request body too large", caller.request_id)
    payload = _parse_json(raw)
    if payload is _NOT_JSON:
        return error(400, "invalid_body", "request body is not valid JSON", caller.request_id)
    problem = _verify_body_problem(payload)
    if problem is not None:
        return error(422, "validation_error", problem, caller.request_id)
    personal_id = payload["personal_id"]
    audit = request.scope["popcert.audit"]
    audit["personal_ids"] = (personal_id,)  # a tuple of str: never tracked by the GC
    audit["fields_requested"] = _VERIFY_REQUESTED
    if not _valid_pid(personal_id):
        return error(400, "invalid_personal_id", "personal_id must be exactly 12 digits",
                     caller.request_id)
    # identity() computes only name and date of birth: the hot path of every load test.
    identity = request.scope["popcert.state"].population.identity(personal_id)
    audit["fields_returned"] = _VERIFY_RETURNED
    if identity is None:
        return _verify_response(("personal_id",))
    full_name, date_of_birth = identity
    name_ok = (full_name == payload["full_name"]
               or _norm_name(full_name) == _norm_name(payload["full_name"]))
    if date_of_birth == payload["date_of_birth"]:
        return _verify_response(() if name_ok else ("full_name",))
    return _verify_response(("date_of_birth",) if name_ok else ("full_name", "date_of_birth"))


def _valid_household_id(household_id: str) -> bool:
    return len(household_id) == 14 and household_id.startswith("HH") and household_id[2:].isdigit()


@_guarded(("household.read",))
async def get_household(request: Request, caller: Caller) -> Response:
    household_id = request.path_params["household_id"]
    if not _valid_household_id(household_id):
        return error(400, "invalid_household_id", "household_id must be HH followed by 12 digits",
                     caller.request_id)
    allowed = allowed_fields(caller.purpose_code, caller.scopes | {"citizen.read"})
    if "relation_to_head" not in allowed:
        return error(403, "purpose_not_allowed",
                     f"purpose {caller.purpose_code} may not read household composition",
                     caller.request_id)
    household = request.app.state.mock.population.household(household_id)
    if household is None:
        return error(404, "not_found", "no household with this household_id", caller.request_id)
    body = household.to_dict()
    if "permanent_residence" not in allowed:
        body.pop("address")
    audit = request.scope["popcert.audit"]
    audit.update(personal_ids=[m["personal_id"] for m in body["members"]],
                 fields_returned=list(body))
    return JSONResponse(body)


class SubscriptionBody(BaseModel, extra="forbid"):
    callback_url: str
    events: list[str]


@_guarded(("notification.subscribe",))
async def subscribe(request: Request, caller: Caller) -> Response:
    payload = _parse_json(await request.body())
    if payload is _NOT_JSON:
        return error(400, "invalid_body", "request body is not valid JSON", caller.request_id)
    try:
        body = SubscriptionBody.model_validate(payload, strict=True)
    except ValidationError:
        return error(422, "validation_error", "body must be {callback_url, events[]}",
                     caller.request_id)
    bad = sorted(set(body.events) - set(EVENT_TYPES))
    if not body.events or bad or len(set(body.events)) != len(body.events):
        return error(422, "validation_error", f"events must be a non-empty list of distinct "
                     f"{', '.join(EVENT_TYPES)}", caller.request_id)
    if not is_loopback_url(body.callback_url):
        # Scope safety: the mock must never push data to a host outside this machine.
        return error(422, "callback_not_allowed", "callback_url must be an http(s) loopback URL",
                     caller.request_id)
    sub = request.app.state.mock.notifier.subscribe(caller.client_id, body.callback_url,
                                                    sorted(set(body.events)))
    return JSONResponse({"subscription_id": sub.subscription_id, "secret": sub.secret,
                         "callback_url": sub.callback_url, "events": list(sub.events)},
                        status_code=201)


async def ping(request: Request) -> Response:
    """Trivial endpoint: the benchmark's baseline on the same server stack (POST reads the body,
    so a baseline can have the same request shape as identity verification)."""
    if request.method == "POST":
        await request.body()
    return JSONResponse({"ok": True})


async def jwks(request: Request) -> Response:
    return JSONResponse(request.app.state.mock.keys.jwks(),
                        headers={"Cache-Control": "max-age=60"})


async def openid_configuration(request: Request) -> Response:
    state: MockState = request.app.state.mock
    base = str(request.base_url).rstrip("/")
    return JSONResponse({"issuer": state.issuer, "token_endpoint": f"{base}/oauth2/token",
                         "jwks_uri": f"{base}/.well-known/jwks.json",
                         "grant_types_supported": ["client_credentials"],
                         "token_endpoint_auth_methods_supported": ["private_key_jwt",
                                                                   "tls_client_auth"],
                         "id_token_signing_alg_values_supported": ["ES256"]})


async def not_found(request: Request, exc: Exception) -> Response:
    return error(404, "not_found", "no such endpoint", request.headers.get("x-request-id"))


async def method_not_allowed(request: Request, exc: Exception) -> Response:
    # RFC 9110 §15.5.6: a 405 lists the allowed methods (Starlette puts them on the exception).
    return error(405, "method_not_allowed", "method not allowed on this endpoint",
                 request.headers.get("x-request-id"), headers=getattr(exc, "headers", None))


async def internal_error(request: Request, exc: Exception) -> Response:
    return error(500, "internal_error", "internal error", request.headers.get("x-request-id"))


def build_data_app(state: MockState) -> Any:
    routes = [  # hot routes first: the router tries them in order
        Route("/npdb/v1/identity/verify", verify_identity, methods=["POST"]),
        Route("/oauth2/token", token, methods=["POST"]),
        Route("/.well-known/jwks.json", jwks, methods=["GET"]),
        Route("/.well-known/openid-configuration", openid_configuration, methods=["GET"]),
        Route("/npdb/v1/ping", ping, methods=["GET", "POST"]),
        Route("/npdb/v1/citizens/{personal_id}", get_citizen, methods=["GET"]),
        Route("/npdb/v1/citizens/{personal_id}/residence", get_residence, methods=["GET"]),
        Route("/npdb/v1/households/{household_id}", get_household, methods=["GET"]),
        Route("/npdb/v1/subscriptions", subscribe, methods=["POST"]),
    ]
    app = Starlette(routes=routes, exception_handlers={404: not_found, 405: method_not_allowed,
                                                      500: internal_error})
    app.state.mock = state
    return AuditAndFaults(app, state, MAX_BODY_BYTES)
