"""AUTH checks of request bodies the spec refuses, on every operation with a JSON body that
documents the status (POST /connection/v1/dossiers with a portal token; the notification webhook
signed by the mock NPDB, which signs any body): over the 64 KiB limit 413, not application/json
415, well-formed JSON against the schema 422, each answered with the spec's ``Error`` body.
Listed in ``harness.suites.auth.suite.SUITE``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from harness.checks import CheckResult, Evidence, Severity, Status, check
from harness.suites.auth.context import AuthContext
from harness.suites.auth.notify import new_event, npdb_signature
from harness.suites.auth.probe import Probe, expect_documented_error
from harness.suites.auth.spec import Operation, connection_spec, operations, schema_breaking

DEFAULT_BODY_LIMIT = 64 * 1024
BODY_OVERSHOOT = 4 * 1024  # just over the limit: bounded (one ~68 KiB request per operation)
NOT_JSON = "text/plain; charset=utf-8"


def body_limit_bytes(spec: dict[str, Any] | None = None) -> int:
    """The limit the spec's 413 response states ("Body larger than 64 KiB")."""
    spec = spec if spec is not None else connection_spec()
    response = ((spec.get("components") or {}).get("responses") or {}).get("PayloadTooLarge") or {}
    found = re.search(r"(\d+)\s*KiB", str(response.get("description", "")))
    return int(found.group(1)) * 1024 if found else DEFAULT_BODY_LIMIT


def _padded(body: bytes, size: int) -> bytes:
    """``body`` followed by JSON whitespace up to ``size`` bytes: still the same valid document."""
    return body + b" " * max(0, size - len(body))


def _json_bytes(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode()


def _body_operations(status: int) -> list[Operation]:
    """The operations with a JSON request body whose responses document ``status``."""
    return [op for op in operations()
            if op.method == "POST" and op.body_schema and op.documents(status)]


def _valid(ctx: AuthContext, op: Operation, index: int) -> dict[str, Any]:
    """A valid body of ``op``: a dossier submission, or a notification never sent before."""
    if op.scopes:
        return ctx.dossier_body(index)
    event: dict[str, Any] = json.loads(new_event(ctx))
    return event


def _send(ctx: AuthContext, op: Operation, description: str, raw: bytes,
          headers: dict[str, str] | None = None) -> Probe | CheckResult:
    """POST ``raw`` to ``op`` as its caller would: a portal token, or the NPDB's signature over
    the exact bytes (the mock signs; the secret never leaves it)."""
    if op.scopes:
        return ctx.post(description, ctx.token(), None, path=op.path, raw=raw, headers=headers)
    signature = npdb_signature(ctx, raw)
    if isinstance(signature, CheckResult):
        return signature
    return ctx.post(description + " (signed by the NPDB)", None, None, path=op.path, raw=raw,
                    headers={**signature, **(headers or {})})


def _probe_each(ctx: AuthContext, status: int,
                variants: Callable[[Operation], list[tuple[str, bytes, dict[str, str]]]]
                ) -> list[Probe] | CheckResult:
    """Send every variant to every operation documenting ``status``; stop at the first request
    without a usable answer (a hung SUT costs one timeout)."""
    probes: list[Probe] = []
    ops = _body_operations(status)
    if not ops:
        return CheckResult.errored(f"the connection spec documents {status} on no operation with "
                                   "a JSON body")
    for op in ops:
        for description, raw, headers in variants(op):
            sent = _send(ctx, op, f"{op.method} {op.path} {description}", raw, headers)
            if isinstance(sent, CheckResult):
                return sent
            probes.append(sent)
            if sent.exchange.error is not None:
                return probes
    return probes


def _sent_to(probes: list[Probe], result: CheckResult) -> CheckResult:
    if result.status != Status.PASS:
        return result
    note = Evidence.note("; ".join(p.description for p in probes), title="requests sent")
    return CheckResult(result.status, result.summary, (*result.evidence, note),
                       result.measurements)


@check("AUTH-BODY-LIMIT", severity=Severity.HIGH,
       requirements=["CONN-BODY-LIMIT", "CONN-CREATE-DOSSIER-413", "CONN-RECEIVE-NOTIFICATION-413",
                     "CONN-ERROR-BODY", "OWASP-API4-2023"],
       defect=("auth.no_body_limit", "auth.body_limit_html_413"),
       title="A valid request padded just over the documented 64 KiB body limit is refused with "
             "413 and the spec's Error body, on every operation whose spec documents 413.")
def body_limit(ctx: AuthContext) -> CheckResult:
    """A valid request padded just over the documented body limit is refused with 413 and the
    Error body, on every operation whose spec documents 413 (each probe sent once, limit + 4 KiB)."""
    if (problem := ctx.baseline_problem()) is not None:
        return problem
    limit = body_limit_bytes()
    size = limit + BODY_OVERSHOOT
    probes = _probe_each(ctx, 413, lambda op: [(
        f"with a valid body padded to {size // 1024} KiB",
        _padded(_json_bytes(_valid(ctx, op, 7)), size), {})])
    if isinstance(probes, CheckResult):
        return probes
    return _sent_to(probes, expect_documented_error(
        probes, 413, what=f"body over the {limit // 1024} KiB limit",
        accepted_means="processed (no body limit)"))


@check("AUTH-MEDIA-TYPE", severity=Severity.MEDIUM,
       requirements=["CONN-UNSUPPORTED-MEDIA-TYPE", "CONN-CREATE-DOSSIER-415",
                     "CONN-RECEIVE-NOTIFICATION-415", "CONN-ERROR-BODY"],
       defect=("auth.dossier_any_media_type", "auth.notification_any_media_type"),
       title="A valid body sent as text/plain instead of application/json is refused with 415 "
             "and the spec's Error body, on every operation whose spec documents 415.")
def media_type(ctx: AuthContext) -> CheckResult:
    """A valid body sent as text/plain is refused with 415 and the Error body, on every operation
    documenting 415 (the webhook's body signed by the NPDB, so only the media type is wrong)."""
    if (problem := ctx.baseline_problem()) is not None:
        return problem
    probes = _probe_each(ctx, 415, lambda op: [(
        "with a valid body sent as text/plain", _json_bytes(_valid(ctx, op, 10)),
        {"Content-Type": NOT_JSON})])
    if isinstance(probes, CheckResult):
        return probes
    return _sent_to(probes, expect_documented_error(
        probes, 415, what="body that is not application/json",
        accepted_means="processed as if it were application/json"))


def _schema_variants(ctx: AuthContext, op: Operation) -> list[tuple[str, bytes, dict[str, str]]]:
    """One body per assertion of the operation's schema it breaks; each from a fresh valid body
    (a notification's own event_id), so only the broken assertion is under test."""
    schema = op.body_schema or ""
    variants: list[tuple[str, bytes, dict[str, str]]] = []
    for index in range(len(schema_breaking(_valid(ctx, op, 11), schema))):
        description, body = schema_breaking(_valid(ctx, op, 11), schema)[index]
        variants.append((f"with a body {description}", _json_bytes(body), {}))
    return variants


@check("AUTH-SCHEMA-VIOLATION", severity=Severity.MEDIUM,
       requirements=["CONN-INVALID-INPUT", "CONN-CREATE-DOSSIER-422",
                     "CONN-RECEIVE-NOTIFICATION-422", "CONN-ERROR-BODY"],
       defect=("auth.validation_400", "auth.notification_schema_unchecked"),
       title="Well-formed JSON that breaks the request schema (a required property missing, a "
             "value outside its enum, a pattern broken, an array) is refused with 422 and the "
             "spec's Error body, on every operation whose spec documents 422.")
def schema_violation(ctx: AuthContext) -> CheckResult:
    """Well-formed JSON that breaks the request schema is refused with 422 and the Error body on
    every operation with a body documenting 422 (the webhook's signed by the NPDB)."""
    if (problem := ctx.baseline_problem()) is not None:
        return problem
    probes = _probe_each(ctx, 422, lambda op: _schema_variants(ctx, op))
    if isinstance(probes, CheckResult):
        return probes
    return _sent_to(probes, expect_documented_error(
        probes, 422, what="well-formed JSON that breaks the schema", accepted_means="accepted"))


@check("AUTH-MALFORMED-BODY", severity=Severity.LOW,
       requirements=["CONN-MALFORMED-REQUEST", "CONN-ERROR-BODY"],
       defect="auth.malformed_json_422",
       title="A request body that is not JSON (a valid body cut off mid-document) is refused "
             "with 400 and the spec's Error body, on every operation with a JSON body whose "
             "spec documents 400.")
def malformed_body(ctx: AuthContext) -> CheckResult:
    """A valid body cut off mid-document is refused with 400 and the Error body: the spec's
    BadRequest is "Malformed request (e.g. body is not JSON)" and keeps 422 for well-formed JSON
    that does not match the schema (the webhook's body signed by the NPDB, so only the syntax is
    wrong)."""
    if (problem := ctx.baseline_problem()) is not None:
        return problem

    def cut_off(op: Operation) -> list[tuple[str, bytes, dict[str, str]]]:
        whole = _json_bytes(_valid(ctx, op, 12))
        return [("with a valid body cut off mid-document (not JSON)", whole[:len(whole) // 2], {})]

    probes = _probe_each(ctx, 400, cut_off)
    if isinstance(probes, CheckResult):
        return probes
    return _sent_to(probes, expect_documented_error(
        probes, 400, what="body that is not JSON", accepted_means="processed"))
