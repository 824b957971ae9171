"""AUTH checks of what an authenticated caller may do: scopes, object-level access, and what
error bodies reveal (request bodies: bodies.py; methods: methods.py; rate limit: ratelimit.py).
Listed in ``harness.suites.auth.suite.SUITE``.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections import Counter
from typing import Any

from harness.checks import CheckResult, Evidence, Severity, Status, check
from harness.suites.auth.context import AuthContext
from harness.suites.auth.probe import (
    DOSSIERS_PATH,
    PORTAL_B,
    Probe,
    expect_refused,
)
from harness.suites.auth.spec import (
    Operation,
    all_scopes,
    citizen_fields,
    citizen_values,
    operations,
)
from harness.sut.portal import PORTAL

FIELD_PROBES_BUDGET_S = 20.0  # bounds AUTH-ERROR-LEAK's citizen-field probes

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
# What must never appear in an error body; each pattern names the leak in the evidence.
LEAK_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("stack trace", re.compile(r"Traceback \(most recent call last\)|^\s+at [\w.$]+\(", re.MULTILINE)),
    ("source location", re.compile(r'File "[^"]+", line \d+|\b[\w./\\-]+\.(?:py|java|go|js|rb|php)'
                                   r'(?::\d+|\b)')),
    ("file system path", re.compile(r"(?:/(?:home|usr|opt|var|srv|app|tmp|root)/[\w.-]+)|"
                                    r"site-packages|[A-Za-z]:\\\\?[\w.-]+\\")),
    ("exception class name", re.compile(r"\b[A-Z][A-Za-z0-9_]+(?:Error|Exception)\b")),
    ("database error", re.compile(r"SQLSTATE|ORA-\d{5}|sqlite3\.|psycopg|syntax error at or near",
                                  re.IGNORECASE)),
    ("private key", re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")),
)
PERSONAL_ID = re.compile(r"(?<!\d)\d{12}(?!\d)")


def _scoped_request(ctx: AuthContext, op: Operation, index: int
                    ) -> tuple[str, dict[str, Any] | None] | CheckResult:
    """Path and body of a valid request to ``op``: path parameters name the dossier ``portal``
    submitted, a body is a valid submission."""
    path = op.path
    if "{" in path:
        dossier_id, created = ctx.own_dossier()
        if dossier_id is None:
            return CheckResult.errored(f"could not create a dossier to call {op.operation_id} "
                                       "with", *created.evidence())
        path = re.sub(r"\{[^}]+\}", dossier_id, path)
    body = ctx.dossier_body(index) if op.body_schema else None
    return path, body


def _call(ctx: AuthContext, op: Operation, description: str, token: str, path: str,
          body: dict[str, Any] | None) -> Probe:
    if op.method == "GET":
        return ctx.read(description, token, path=path)
    return ctx.post(description, token, body, path=path)


@check("AUTH-SCOPE", severity=Severity.CRITICAL,
       requirements=["CONN-SEC-SCOPE", "CONN-SCOPE-CREATE-DOSSIER", "CONN-SCOPE-LIST-DOSSIERS",
                     "CONN-SCOPE-GET-DOSSIER"],
       defect=("auth.scope_not_enforced", "auth.read_scope_not_enforced"))
def scope_enforced(ctx: AuthContext) -> CheckResult:
    """Every operation the spec's security requirements scope refuses a genuine token that
    lacks its scope with 403 (e.g. dossier.read for the GETs, dossier.submit for POST /dossiers)."""
    if (problem := ctx.baseline_problem()) is not None:
        return problem
    scoped = [op for op in operations() if op.scopes]
    if not scoped:
        return CheckResult.errored("the connection spec scopes no operation")
    known = sorted(all_scopes(scoped))
    refusals: list[Probe] = []
    for index, op in enumerate(scoped, start=1):
        request = _scoped_request(ctx, op, index)
        if isinstance(request, CheckResult):
            return request
        path, body = request
        label = f"{op.method} {op.path}"
        allowed = _call(ctx, op, f"{label} with every scope ({' '.join(known)})",
                        ctx.token(PORTAL, known), path, body)
        status = allowed.exchange.status
        if status is None or not 200 <= status < 300:
            return CheckResult.errored(
                f"{label} with a token carrying every scope was not served (HTTP {status}), so a "
                "refusal without its scope proves nothing", *allowed.evidence())
        lacking = [s for s in known if s not in op.scopes]
        refusals.append(_call(
            ctx, op, f"{label} with a token lacking {', '.join(sorted(op.scopes))} "
            f"(scope: {' '.join(lacking) or 'none'})", ctx.token(PORTAL, lacking), path,
            ctx.dossier_body(index + len(scoped)) if body is not None else None))
        if refusals[-1].exchange.error is not None:
            break
    # components.responses.Forbidden: "The token lacks the scope this operation needs." (403;
    # a 401 would say the token itself is not accepted)
    result = expect_refused(refusals, what="request without the operation's scope",
                            accepted_means="served", refused=frozenset({403}))
    covered = Evidence.note("; ".join(f"{op.method} {op.path}: {' '.join(sorted(op.scopes))}"
                                      for op in scoped),
                            title="scopes the spec requires per operation")
    return CheckResult(result.status, result.summary, (*result.evidence, covered),
                       result.measurements)


@check("AUTH-OBJECT-LEVEL", severity=Severity.CRITICAL,
       requirements=["CONN-SEC-OWN-DOSSIERS", "CONN-DOSSIER-GET-OWN", "OWASP-API1-2023"],
       defect=("auth.bola", "auth.foreign_dossier_403"),
       title="Another portal tenant asking for a dossier it did not submit gets 404, exactly as "
             "for a dossier that does not exist.")
def object_level(ctx: AuthContext) -> CheckResult:
    """Another portal tenant asking for a dossier it did not submit gets 404 (the spec: "a
    dossier of another client is reported as 404"), answered as for an id that does not exist.
    A 403 refuses the read but confirms the dossier exists: an oracle the spec rules out."""
    dossier_id, created = ctx.own_dossier()
    if dossier_id is None:
        return CheckResult.errored("could not create a dossier to probe with", *created.evidence())
    path = f"{DOSSIERS_PATH}/{dossier_id}"
    owner = ctx.read("owner (portal) reading its own dossier", ctx.token(), path=path)
    if owner.exchange.status != 200:
        return CheckResult.errored("the owner cannot read its own dossier, so a refusal of "
                                   "another tenant proves nothing", *owner.exchange.evidence())
    other_token = ctx.token(PORTAL_B)
    other = ctx.read("portal-b token reading portal's dossier", other_token, path=path)
    result = expect_refused([other], what="another tenant's dossier",
                            accepted_means="the dossier was served to a client that does not own it",
                            refused=frozenset({404}))
    if result.status != Status.PASS:
        return result
    unknown_id = str(uuid.uuid4())
    unknown = ctx.read("portal-b token reading a dossier id that does not exist", other_token,
                       path=f"{DOSSIERS_PATH}/{unknown_id}")
    told_apart = _not_found_differs(other.exchange.json(), dossier_id,
                                    unknown.exchange.json(), unknown_id)
    if unknown.exchange.status == 404 and told_apart:
        return CheckResult.failed(
            f"another tenant's dossier → 404, but its {told_apart} differs from the 404 for an id "
            "that does not exist: the answer still tells that the dossier exists",
            *other.evidence(), *unknown.evidence())
    return CheckResult(result.status, result.summary, (*result.evidence, *unknown.evidence()),
                       result.measurements)


def _not_found_differs(foreign: Any, foreign_id: str, unknown: Any, unknown_id: str) -> str | None:
    """Which field of the Error body (error, message) tells another client's dossier apart from
    a missing one, the ids themselves aside; None when they read alike or are not Error bodies."""
    if not isinstance(foreign, dict) or not isinstance(unknown, dict):
        return None
    for name in ("error", "message"):
        a, b = foreign.get(name), unknown.get(name)
        if isinstance(a, str) and isinstance(b, str) and \
                a.replace(foreign_id, "<id>") != b.replace(unknown_id, "<id>"):
            return f"`{name}`"
    return None


def _leaks(text: str, sent: list[str], token: str) -> list[str]:
    """Names of what ``text`` (an error body) reveals."""
    try:  # a JSON body may escape what it echoes (\u1ec5): read the decoded text too
        text = text + "\n" + json.dumps(json.loads(text), ensure_ascii=False)
    except ValueError:
        pass
    found = [name for name, pattern in LEAK_PATTERNS if pattern.search(text)]
    if token and token in text:
        found.append("the caller's bearer token")
    scrubbed = _UUID.sub("", text)  # a request id's last group can be 12 digits
    if PERSONAL_ID.search(scrubbed) or any(value and value in text for value in sent):
        found.append("citizen data")
    return found


@check("AUTH-ERROR-LEAK", severity=Severity.MEDIUM,
       requirements=["CONN-ERROR-BODY", "OWASP-API8-2023"],
       defect=("auth.leaky_errors", "auth.validation_echoes_input"))
def error_leak(ctx: AuthContext) -> CheckResult:
    """Error bodies for malformed, mistyped or huge input reveal nothing internal or personal."""
    if (problem := ctx.baseline_problem()) is not None:
        return problem
    token = ctx.token()
    body = ctx.dossier_body(2)
    person = body["applicant"]
    sent = [person["personal_id"], person["full_name"]]
    wrong_types = {"procedure_code": 1004194, "applicant": [person["personal_id"]],
                   "details": "x"}
    mistyped_person = {**body, "applicant": {**person, "date_of_birth": 19900101}}
    huge = {**body, "applicant": {**person, "full_name": "Nguyễn " * 2000},
            "details": {"address": {"line": "9" * 20000}, "relation_to_head": 10 ** 400}}
    probes: list[Probe] = [
        ctx.post("malformed JSON body", token, None, raw=b'{"procedure_code": "1.004194", "ap'),
        ctx.post("body that is not UTF-8", token, None, raw=b'{"procedure_code": "\xff\xfe"}'),
        ctx.post("fields of the wrong type", token, wrong_types),
        ctx.post("a citizen's data with a mistyped date_of_birth", token, mistyped_person),
        ctx.post("huge field values", token, None, raw=_json_bytes(huge)),
        ctx.read("dossier id that is not a UUID", token, path=f"{DOSSIERS_PATH}/..%2f..%2fetc"),
        ctx.read("limit that is not a number", token, path=f"{DOSSIERS_PATH}?limit=1e999"),
    ]
    sent_by_probe: dict[int, list[str]] = {id(p): sent for p in probes}
    # every request-body field with citizen data, made invalid but still carrying it (a framework's
    # default 422 often echoes the input); another tenant's token spreads the rate-limit budget
    field_token = ctx.token(PORTAL_B)
    fields_deadline = time.monotonic() + FIELD_PROBES_BUDGET_S
    citizens = citizen_fields(ctx.people)
    probed = 0
    for citizen in citizens:
        if time.monotonic() > fields_deadline:  # a slow or tightly rate-limited SUT: stop here
            break
        mutated = citizen.mutated_body()
        probe = _send_field_probe(ctx, citizen.pointer, field_token, mutated)
        sent_by_probe[id(probe)] = citizen_values(citizen.body) + [citizen.value]
        probes.append(probe)
        probed += 1
        if probe.exchange.error is not None:
            break
    answered = [p for p in probes if p.exchange.error is None and p.exchange.status is not None]
    if not answered:
        return CheckResult.errored("no malformed request got an answer",
                                   *probes[0].exchange.evidence())
    leaking = [(p, _leaks(p.exchange.text, sent_by_probe[id(p)], token)) for p in answered
               if (p.exchange.status or 0) >= 400]
    leaking = [(p, names) for p, names in leaking if names]
    if leaking:
        probe, names = leaking[0]
        return CheckResult.failed(
            f"the error body for {probe.description} (HTTP {probe.exchange.status}) reveals "
            f"{', '.join(names)}", *probe.evidence(),
            *[e for p, _ in leaking[1:3] for e in p.evidence()], leaking_responses=len(leaking))
    statuses = Counter(str(p.exchange.status) for p in answered)
    return CheckResult.passed(
        f"{len(answered)} error responses reveal nothing "
        f"({', '.join(f'{n}× HTTP {s}' for s, n in sorted(statuses.items()))}; "
        f"{probed} of {len(citizens)} citizen-data fields of the request schemas probed)",
        *probes[0].evidence(),
        Evidence.note("; ".join(p.description for p in answered), title="probes answered"),
        responses=len(answered), citizen_fields_probed=probed)


def _send_field_probe(ctx: AuthContext, pointer: str, token: str, body: dict[str, Any]) -> Probe:
    """One invalid-field submission; after a 429 wait (≤ 2 s) and send it once more."""
    description = f"a submission whose {pointer} is invalid but still carries citizen data"
    probe = ctx.post(description, token, body)
    if probe.exchange.status == 429:
        retry_after = probe.exchange.headers.get("retry-after", "1")
        time.sleep(min(2.0, float(retry_after) if retry_after.isdigit() else 1.0))
        probe = ctx.post(description, token, body)
    return probe


def _json_bytes(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode()
