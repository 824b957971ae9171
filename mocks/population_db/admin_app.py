"""The mock's admin API (plain HTTP, bound to 127.0.0.1): audit, faults, notifications, samples.

A call carrying ``X-Popcert-Run`` acts in that run's namespace (``runs.py``): its own people,
fault rules, audit window and deliveries. Without the header it acts on the whole mock.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from popcert_npdb.faults import FaultSpec
from popcert_npdb.middleware import BodyLimit
from popcert_npdb.notifications import sign
from popcert_npdb.runs import RUN_HEADER, valid_run_id
from popcert_npdb.state import MockState, error

MAX_ADMIN_BODY_BYTES = 1024 * 1024


class NotificationRequest(BaseModel):
    type: Literal["birth", "death", "residence_change"]
    personal_id: str
    new_address: str | None = None
    gender: Literal["male", "female"] = "female"
    wait: bool = True


class SignRequest(BaseModel):
    body: str
    timestamp: int | None = None  # unix seconds; None = now


class TrustRequest(BaseModel):
    ca_pem: str = Field(min_length=1, max_length=256 * 1024)


class LeaseRequest(BaseModel):
    mode: Literal["exclusive", "shared"]
    ttl_s: float = Field(120.0, gt=0, le=900)


class RateLimitRequest(BaseModel):
    per_s: float = Field(gt=0)
    client_id: str | None = None


def _state(request: Request) -> MockState:
    return request.app.state.mock  # type: ignore[no-any-return]


def _run(request: Request) -> str | None:
    return valid_run_id(request.headers.get(RUN_HEADER))


async def _json_body(request: Request, model: type[BaseModel]) -> Any:
    try:
        return model.model_validate(json.loads(await request.body() or b"{}"))
    except (ValueError, RecursionError, ValidationError) as exc:  # JSONDecodeError is a ValueError
        raise ValueError(str(exc)[:500]) from exc


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value else default
    except ValueError:
        raise ValueError(f"not an integer: {str(value)[:40]!r}") from None


def _audit_unavailable(problem: Exception) -> Response:
    # Entries not yet in the database would be missing from the answer: refuse, never under-report.
    return error(503, "audit_unavailable", f"the audit log cannot be written ({problem}); "
                 "see /admin/health")


async def audit(request: Request) -> Response:
    q = request.query_params
    try:
        entries = _state(request).audit.query(since_id=_int(q.get("since_id"), 0),
                                             client_id=q.get("client_id"),
                                             request_id=q.get("request_id"),
                                             limit=min(_int(q.get("limit"), 10_000), 100_000),
                                             run_id=_run(request))
    except (OSError, sqlite3.Error) as problem:
        return _audit_unavailable(problem)
    return JSONResponse({"entries": entries})


async def audit_mark(request: Request) -> Response:
    try:
        return JSONResponse({"last_id": _state(request).audit.last_id()})
    except (OSError, sqlite3.Error) as problem:
        return _audit_unavailable(problem)


async def faults(request: Request) -> Response:
    table = _state(request).faults
    run_id = _run(request)
    if request.method == "DELETE":
        table.clear(run_id)
        return JSONResponse({"cleared": True})
    if request.method == "GET":
        return JSONResponse({"faults": table.rules(run_id)})
    try:
        spec = await _json_body(request, FaultSpec)
    except ValueError as exc:
        return error(422, "validation_error", str(exc))
    return JSONResponse(table.add(spec, run_id).to_json(), status_code=201)


async def notifications(request: Request) -> Response:
    state = _state(request)
    run_id = _run(request)
    try:
        spec: NotificationRequest = await _json_body(request, NotificationRequest)
    except ValueError as exc:
        return error(422, "validation_error", str(exc))
    population = state.population
    if run_id is not None and state.runs.run_of([spec.personal_id]) not in (None, run_id):
        return error(409, "other_run", "this citizen belongs to another run's namespace")
    if population.by_personal_id(spec.personal_id) is None:
        return error(404, "not_found", "no citizen with this personal_id")
    if spec.type == "death":
        citizen = population.record_death(spec.personal_id, date.today())
        subject, data = citizen.personal_id, {"date_of_death": citizen.date_of_death}
    elif spec.type == "birth":  # personal_id names the mother; the event is about the newborn
        child = population.register_birth(spec.personal_id, gender=spec.gender, born=date.today())
        subject = child.personal_id
        if run_id is not None:
            state.runs.claim(run_id, [subject])
        data = {"mother_id": child.mother_id, "father_id": child.father_id,
                "date_of_birth": child.date_of_birth, "household_id": child.household_id}
    else:
        address = spec.new_address or "Số 1, đường Lê Lợi, phường 1, Thành phố Hà Nội"
        citizen = population.record_move(spec.personal_id, address)
        subject, data = citizen.personal_id, {"permanent_residence": address}
    deliveries = await state.notifier.emit(spec.type, subject, data, spec.wait, run_id=run_id)
    return JSONResponse({"type": spec.type, "personal_id": subject, "data": data,
                         "deliveries": [d.to_json() for d in deliveries]})


async def sign_for_subscription(request: Request) -> Response:
    """X-NPDB-Signature of a body for one subscription at a chosen clock: lets the harness send
    stale, future-dated and redelivered notifications without the secret leaving the mock."""
    state = _state(request)
    subscription = state.notifier.subscriptions.get(request.path_params["subscription_id"])
    if subscription is None:
        return error(404, "not_found", "no such subscription")
    try:
        spec: SignRequest = await _json_body(request, SignRequest)
    except ValueError as exc:
        return error(422, "validation_error", str(exc))
    header = sign(subscription.secret, spec.body.encode(), spec.timestamp)
    return JSONResponse({"subscription_id": subscription.subscription_id,
                         "signature_header": header})


async def deliveries(request: Request) -> Response:
    run_id = _run(request)
    return JSONResponse({"deliveries": [d.to_json() for d in _state(request).notifier.deliveries
                                        if run_id is None or d.run_id == run_id]})


async def lease(request: Request) -> Response:
    """Take a lease on the mock for a step (``runs.Leases``); 409 means: ask again shortly."""
    state = _state(request)
    if request.method == "DELETE":
        state.leases.release(_int(request.path_params.get("lease_id"), 0))
        return JSONResponse({"released": True})
    run_id = _run(request)
    if run_id is None:
        return error(400, "run_id_required", "a lease belongs to a run: send X-Popcert-Run")
    try:
        spec: LeaseRequest = await _json_body(request, LeaseRequest)
    except ValueError as exc:
        return error(422, "validation_error", str(exc))
    lease_id = state.leases.acquire(run_id, spec.mode, spec.ttl_s)
    if lease_id is None:
        return error(409, "busy", "another run's step holds the mock; ask again shortly")
    return JSONResponse({"lease_id": lease_id, "mode": spec.mode})


async def trust(request: Request) -> Response:
    """Trust a CA for notification deliveries (the SUT's own server CA, from the run config)."""
    try:
        spec: TrustRequest = await _json_body(request, TrustRequest)
        count = _state(request).notifier.trust(spec.ca_pem)
    except ValueError as exc:
        return error(422, "validation_error", str(exc))
    return JSONResponse({"trusted_extra_cas": count})


async def sample(request: Request) -> Response:
    q = request.query_params
    kind = q.get("kind", "adult")
    state = _state(request)
    try:
        run_id = _run(request)
        n, seed = min(_int(q.get("n"), 1), 1000), _int(q.get("seed"), 0)
        if run_id is None:
            found = state.population.sample(kind, n, seed)
        else:  # people no other run holds and no change has touched, now this run's
            found = state.runs.draw(run_id, state.population.iter_sample(kind, seed), n)
    except ValueError as exc:
        return error(400, "invalid_request", str(exc))
    return JSONResponse({"kind": kind, "personal_ids": [c.personal_id for c in found],
                         "records": [c.to_dict() for c in found]})


async def reset(request: Request) -> Response:
    state = _state(request)
    run_id = _run(request)
    if run_id is not None:  # a run resets only its own namespace (audit rows are history)
        state.faults.clear(run_id)
        state.notifier.clear(run_id)
        return JSONResponse({"reset": True, "run_id": run_id})
    state.audit.clear()
    state.faults.clear()
    state.notifier.clear()
    state.buckets.clear()
    return JSONResponse({"reset": True})


async def rotate_keys(request: Request) -> Response:
    kid = _state(request).keys.rotate()
    return JSONResponse({"kid": kid, "published": _state(request).keys.published_kids()})


async def rate_limit(request: Request) -> Response:
    try:
        spec: RateLimitRequest = await _json_body(request, RateLimitRequest)
    except ValueError as exc:
        return error(422, "validation_error", str(exc))
    _state(request).set_rate_limit(spec.per_s, spec.client_id)
    return JSONResponse(spec.model_dump())


async def health(request: Request) -> Response:
    state = _state(request)
    audit_health = state.audit.outage.health()
    # "ok" is false while the audit log cannot be written: data calls then fail closed (500).
    return JSONResponse({"ok": audit_health["state"] == "ok", "population": state.population.size,
                         "seed": state.population.seed, "mtls": state.mtls,
                         "audit": audit_health})


def build_admin_app(state: MockState) -> Any:
    app = Starlette(routes=[
        Route("/admin/health", health, methods=["GET"]),
        Route("/admin/audit", audit, methods=["GET"]),
        Route("/admin/audit/mark", audit_mark, methods=["GET"]),
        Route("/admin/faults", faults, methods=["GET", "POST", "DELETE"]),
        Route("/admin/notifications", notifications, methods=["POST"]),
        Route("/admin/deliveries", deliveries, methods=["GET"]),
        Route("/admin/trust", trust, methods=["POST"]),
        Route("/admin/lease", lease, methods=["POST"]),
        Route("/admin/lease/{lease_id}", lease, methods=["DELETE"]),
        Route("/admin/subscriptions/{subscription_id}/sign", sign_for_subscription,
              methods=["POST"]),
        Route("/admin/population/sample", sample, methods=["GET"]),
        Route("/admin/reset", reset, methods=["POST"]),
        Route("/admin/keys/rotate", rotate_keys, methods=["POST"]),
        Route("/admin/rate_limit", rate_limit, methods=["POST"]),
    ], exception_handlers={ValueError: _bad_request})
    app.state.mock = state
    return BodyLimit(app, MAX_ADMIN_BODY_BYTES)


async def _bad_request(request: Request, exc: Exception) -> Response:
    return error(400, "invalid_request", str(exc)[:500])
