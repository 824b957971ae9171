"""AUTH checks of bodies the connection spec defines beyond the status: ``Error.fields``, "Paths
of invalid input fields (validation errors only)", and the webhook's ``NotificationAck``, "status
accepted (first time) or duplicate (already processed)". Each sends a few requests (bounded).
Listed in ``harness.suites.auth.suite.SUITE``.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from jsonschema import Draft202012Validator

from harness.checks import CheckResult, Evidence, Severity, check
from harness.suites.auth.context import AuthContext
from harness.suites.auth.notify import fresh_after, new_event, npdb_signature, signed_at_of
from harness.suites.auth.probe import DOSSIERS_PATH, NOTIFICATIONS_PATH, READ_PATH, Probe
from harness.suites.auth.spec import connection_spec, schema_breaking

VALIDATION_ERROR = "validation_error"  # components.schemas.Error.error for a validation error
VALIDATION_STATUS = 422  # components.responses.UnprocessableEntity


def fields_problem(status: int | None, body: Any, invalid: str | None = None) -> str | None:
    """Why an error answer breaks "fields: paths of invalid input fields (validation errors
    only)", or None: ``fields`` on an answer that is no validation error, or a validation error
    whose ``fields`` (optional) do not name the input ``invalid`` the request broke.

    A request that broke an input (``invalid`` given) is a validation error whatever status the
    SUT chose for it: a 400 in place of 422 is AUTH-SCHEMA-VIOLATION's finding, not this one's."""
    if not isinstance(body, dict) or "fields" not in body:
        return None
    fields = body.get("fields")
    validation = (invalid is not None or status == VALIDATION_STATUS
                  or body.get("error") == VALIDATION_ERROR)
    if not validation:
        return (f"an HTTP {status} {body.get('error')!r} error carries fields {str(fields)[:200]}: "
                "the spec gives fields to validation errors only")
    if invalid is not None and isinstance(fields, list) and fields \
            and not any(invalid in str(f) for f in fields):
        return (f"the validation error's fields {str(fields)[:200]} do not name {invalid!r}, "
                "the one input the request broke")
    return None


def _breaking_dossier(ctx: AuthContext) -> tuple[str, str, bytes]:
    """(description, the property it breaks, body): a submission without a required property."""
    valid = ctx.dossier_body(50)
    for description, body in schema_breaking(valid, "DossierCreate"):
        if description.startswith("without its required ") and isinstance(body, dict):
            prop = description.removeprefix("without its required ")
            return description, prop, json.dumps(body).encode()
    raise RuntimeError("DossierCreate requires no property the valid body carries")


@check("AUTH-ERROR-FIELDS", severity=Severity.LOW,
       requirements=["CONN-ERROR-FIELDS"], defect="auth.error_fields_everywhere",
       title="Error bodies carry fields only on validation errors, and a validation error's "
             "fields, when given, name the input the request broke.")
def error_fields(ctx: AuthContext) -> CheckResult:
    """Four errors provoked (401 no token, 404 unknown dossier, 415 text/plain, 422 a required
    property left out): only the 422's Error may carry fields, naming that property."""
    if (problem := ctx.baseline_problem()) is not None:
        return problem
    token = ctx.token()
    description, prop, broken = _breaking_dossier(ctx)
    probes: list[tuple[Probe, str | None]] = [
        (ctx.read("read without a token (an authentication error)", None, path=READ_PATH), None),
        (ctx.read("read of a dossier id nobody was given (not found)", token,
                  path=f"{DOSSIERS_PATH}/{uuid.uuid4()}"), None),
        (ctx.post("valid dossier sent as text/plain (unsupported media type)", token, None,
                  raw=json.dumps(ctx.dossier_body(51)).encode(),
                  headers={"Content-Type": "text/plain; charset=utf-8"}), None),
        (ctx.post(f"dossier {description} (a validation error)", token, None, raw=broken), prop),
    ]
    judged: list[Probe] = []
    for probe, invalid in probes:
        ex = probe.exchange
        if ex.error is not None or ex.status is None or ex.status == 429:
            return CheckResult.errored(f"could not decide: {probe.description} → "
                                       f"{ex.error or f'HTTP {ex.status}'}", *probe.evidence())
        if ex.status < 400:
            continue  # served: the status checks' finding, no error body to judge
        judged.append(probe)
        if (why := fields_problem(ex.status, ex.json(), invalid)) is not None:
            return CheckResult.failed(f"{probe.description}: {why}", *probe.evidence())
    if not judged:
        return CheckResult.errored("none of the requests was answered with an error",
                                   *probes[0][0].evidence())
    return CheckResult.passed(f"{len(judged)} error bodies: fields only on the validation error",
                              Evidence.note("; ".join(p.description for p in judged),
                                            title="errors provoked"),
                              *(e for p in judged for e in p.evidence()),
                              errors=float(len(judged)))


def ack_problem(body: Any, event_id: str, expected: str) -> str | None:
    """Why ``body`` is not the NotificationAck of ``event_id`` with status ``expected``."""
    schema = ((connection_spec().get("components") or {}).get("schemas") or {}).get(
        "NotificationAck") or {}
    errors = sorted(Draft202012Validator(schema).iter_errors(body), key=lambda e: list(e.path))
    if errors:
        where = "/" + "/".join(str(p) for p in errors[0].absolute_path)
        return f"the body is not the spec's NotificationAck ({where} fails '{errors[0].validator}')"
    if body.get("event_id") != event_id:
        return f"it acknowledges event_id {str(body.get('event_id'))[:100]!r}, not {event_id!r}"
    if body.get("status") != expected:
        return f"its status is {body.get('status')!r} where {expected!r} was due"
    return None


@check("AUTH-NOTIFY-ACK", severity=Severity.LOW,
       requirements=["CONN-RESPONSE-NOTIFICATION-ACK"], defect="auth.notification_ack_always_accepted",
       title="The webhook acknowledges a new notification with its event_id and status accepted, "
             "and the same event redelivered with a fresh signature with status duplicate.")
def notify_ack(ctx: AuthContext) -> CheckResult:
    """A new notification signed by the NPDB, then the same body signed again a second later:
    the 200 bodies are NotificationAck {event_id, accepted} then {event_id, duplicate}. A refused
    redelivery is AUTH-NOTIFY-REDELIVERY's finding, not judged here."""
    body = new_event(ctx)
    event_id = str(json.loads(body)["event_id"])
    probes: list[Probe] = []
    signed_at: int | None = None
    for label, expected in (("new notification signed by the NPDB", "accepted"),
                            ("the same notification redelivered with a fresh signature",
                             "duplicate")):
        # A fresh signature needs a later second: the redelivery is signed as the NPDB would
        # sign it a second on (well inside the 300 s window), not after waiting for one.
        header = npdb_signature(ctx, body, fresh_after(signed_at))
        if isinstance(header, CheckResult):
            return header
        signed_at = signed_at_of(header)
        probe = ctx.post(label, None, None, path=NOTIFICATIONS_PATH, raw=body, headers=header)
        probes.append(probe)
        ex = probe.exchange
        if ex.error is not None or ex.status is None or not 200 <= ex.status < 300:
            if expected == "duplicate":
                break  # refused redelivery: AUTH-NOTIFY-REDELIVERY's finding
            return CheckResult.errored(
                f"a new notification the NPDB signed was not accepted "
                f"({ex.error or f'HTTP {ex.status}'}), so there is no acknowledgement to judge",
                *probe.evidence())
        if (why := ack_problem(ex.json(), event_id, expected)) is not None:
            return CheckResult.failed(f"{label} → HTTP {ex.status}, but {why}", *probe.evidence())
    return CheckResult.passed(f"{len(probes)} acknowledgement(s) are the spec's NotificationAck",
                              *(e for p in probes for e in p.evidence()))
