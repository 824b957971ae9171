"""AUTH checks of what an authenticated caller may do: scopes, object-level access, per-client
rate limiting, and what error bodies reveal. Listed in ``harness.suites.auth.suite.SUITE``.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

from harness.checks import CheckResult, Evidence, Severity, check
from harness.health import assess, health_evidence, inconclusive_result
from harness.health_monitor import HealthMonitor
from harness.suites.auth.context import AuthContext
from harness.suites.auth.notify import new_event, npdb_signature
from harness.suites.auth.probe import (
    DOSSIERS_PATH,
    PORTAL_B,
    PORTAL_READONLY,
    Probe,
    expect_refused,
)
from harness.suites.auth.spec import (
    Operation,
    all_scopes,
    citizen_fields,
    citizen_values,
    connection_spec,
    operations,
)
from harness.sut.portal import PORTAL

RATE_MAX_REQUESTS = 400  # bounded burst; auth.rate_limit_max_requests in the profile overrides
RATE_WINDOW_S = 8.0  # auth.rate_limit_window_s
RATE_WORKERS = 8
RETRY_AFTER_MAX_S = 3600  # a longer wait is a lock-out, not a rate limit
DEFAULT_BODY_LIMIT = 64 * 1024
FIELD_PROBES_BUDGET_S = 20.0  # bounds AUTH-ERROR-LEAK's citizen-field probes
BODY_OVERSHOOT = 4 * 1024  # just over the limit: bounded (one ~68 KiB request per operation)

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
    lacks its scope (e.g. dossier.read for the GETs, dossier.submit for POST /dossiers)."""
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
    result = expect_refused(refusals, what="request without the operation's scope",
                            accepted_means="served")
    covered = Evidence.note("; ".join(f"{op.method} {op.path}: {' '.join(sorted(op.scopes))}"
                                      for op in scoped),
                            title="scopes the spec requires per operation")
    return CheckResult(result.status, result.summary, (*result.evidence, covered),
                       result.measurements)


@check("AUTH-OBJECT-LEVEL", severity=Severity.CRITICAL,
       requirements=["CONN-SEC-OWN-DOSSIERS", "CONN-DOSSIER-GET-OWN", "OWASP-API1-2023"],
       defect="auth.bola")
def object_level(ctx: AuthContext) -> CheckResult:
    """Another portal tenant cannot read a dossier it did not submit."""
    dossier_id, created = ctx.own_dossier()
    if dossier_id is None:
        return CheckResult.errored("could not create a dossier to probe with", *created.evidence())
    path = f"{DOSSIERS_PATH}/{dossier_id}"
    owner = ctx.read("owner (portal) reading its own dossier", ctx.token(), path=path)
    if owner.exchange.status != 200:
        return CheckResult.errored("the owner cannot read its own dossier, so a refusal of "
                                   "another tenant proves nothing", *owner.exchange.evidence())
    other = ctx.read("portal-b token reading portal's dossier", ctx.token(PORTAL_B), path=path)
    return expect_refused([other], what="another tenant's dossier",
                          accepted_means="the dossier was served to a client that does not own it",
                          refused=frozenset({403, 404}))


def body_limit_bytes(spec: dict[str, Any] | None = None) -> int:
    """The limit the spec's 413 response states ("Body larger than 64 KiB")."""
    spec = spec if spec is not None else connection_spec()
    response = ((spec.get("components") or {}).get("responses") or {}).get("PayloadTooLarge") or {}
    found = re.search(r"(\d+)\s*KiB", str(response.get("description", "")))
    return int(found.group(1)) * 1024 if found else DEFAULT_BODY_LIMIT


def _padded(body: bytes, size: int) -> bytes:
    """``body`` followed by JSON whitespace up to ``size`` bytes: still the same valid document."""
    return body + b" " * max(0, size - len(body))


@check("AUTH-BODY-LIMIT", severity=Severity.HIGH,
       requirements=["CONN-BODY-LIMIT", "OWASP-API4-2023"], defect="auth.no_body_limit")
def body_limit(ctx: AuthContext) -> CheckResult:
    """A valid request padded just over the documented body limit is refused with 413, on every
    operation whose spec documents 413 (each probe sent once, limit + 4 KiB)."""
    if (problem := ctx.baseline_problem()) is not None:
        return problem
    limit = body_limit_bytes()
    size = limit + BODY_OVERSHOOT
    probes: list[Probe] = []
    for op in operations():
        if op.method != "POST" or not op.documents(413) or not op.body_schema:
            continue
        description = f"{op.method} {op.path} with a valid body padded to {size // 1024} KiB"
        if op.scopes:
            raw = _padded(_json_bytes(ctx.dossier_body(7)), size)
            probes.append(ctx.post(description, ctx.token(), None, path=op.path, raw=raw))
        else:
            raw = _padded(new_event(ctx), size)
            signature = npdb_signature(ctx, raw)
            if isinstance(signature, CheckResult):
                return signature
            probes.append(ctx.post(description + " (signed by the NPDB)", None, None,
                                   path=op.path, raw=raw, headers=signature))
        if probes[-1].exchange.error is not None:
            break
    if not probes:
        return CheckResult.errored("the connection spec documents 413 on no operation with a body")
    return expect_refused(probes, what=f"body over the {limit // 1024} KiB limit",
                          accepted_means="processed (no body limit)", refused=frozenset({413}))


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


def retry_after_valid(value: str | None, now: datetime | None = None) -> bool:
    """RFC 9110 §10.2.3: delay-seconds or an HTTP-date, and a wait a client can honour."""
    if value is None:
        return False
    value = value.strip()
    if value.isascii() and value.isdigit():
        return int(value) <= RETRY_AFTER_MAX_S
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return False
    if when.tzinfo is None:
        return False
    reference = now or datetime.now(when.tzinfo)
    return (when - reference).total_seconds() <= RETRY_AFTER_MAX_S


@check("AUTH-RATE-LIMIT", severity=Severity.HIGH,
       requirements=["CONN-RATE-LIMIT", "RFC9110-RETRY-AFTER", "OWASP-API4-2023"],
       defect="auth.no_rate_limit", timeout_s=60)
def rate_limit(ctx: AuthContext) -> CheckResult:
    """A bounded burst from one client is cut off with 429 and a valid Retry-After."""
    if (problem := ctx.baseline_problem()) is not None:
        return problem
    max_requests = int(ctx.run.threshold("auth", "rate_limit_max_requests", RATE_MAX_REQUESTS))
    window_s = float(ctx.run.threshold("auth", "rate_limit_window_s", RATE_WINDOW_S))
    # its own client id: the burst must not spend the budget of the tokens other checks use
    token = ctx.token(PORTAL_READONLY, ("dossier.read",))
    stop = threading.Event()
    lock = threading.Lock()
    sent = 0
    statuses: Counter[str] = Counter()
    first_limited: list[Probe] = []
    failures: list[Probe] = []
    deadline = time.monotonic() + window_s

    def worker() -> None:
        nonlocal sent
        while not stop.is_set() and time.monotonic() < deadline:
            with lock:
                if sent >= max_requests:
                    return
                sent += 1
            probe = ctx.read("request in a burst from one client (portal-readonly)", token)
            with lock:
                statuses[str(probe.exchange.status or "no answer")] += 1
                if probe.exchange.status == 429:
                    first_limited.append(probe)
                    stop.set()
                elif probe.exchange.error is not None:
                    failures.append(probe)
                    if len(failures) >= 5:  # a SUT that stopped answering: stop hammering it
                        stop.set()

    # The host's health over the burst: a saturated host sends it too slowly to meet a limit.
    with HealthMonitor("rate-limit burst") as monitor:
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=RATE_WORKERS,
                                thread_name_prefix="popcert-burst") as pool:
            for _ in range(RATE_WORKERS):
                pool.submit(worker)
        elapsed = time.monotonic() - started
    rate = sent / elapsed if elapsed > 0 else 0.0
    measured = (Evidence.measurement("requests sent", sent, "requests", max_requests),
                Evidence.measurement("burst rate", round(rate, 1), "requests/s"),
                Evidence.note(", ".join(f"{k}: {v}" for k, v in sorted(statuses.items())),
                              title="answers by status"))
    numbers = {"requests": float(sent), "rate_per_s": round(rate, 1), "elapsed_s": round(elapsed, 2)}
    if first_limited:
        probe = first_limited[0]
        header = probe.exchange.headers.get("retry-after")
        if retry_after_valid(header):
            return CheckResult.passed(
                f"limited after {sent} requests in {elapsed:.1f} s (HTTP 429, Retry-After "
                f"{header})", *probe.evidence(), *measured, **numbers)
        return CheckResult.failed(
            f"HTTP 429 after {sent} requests but Retry-After is "
            f"{'missing' if header is None else repr(header) + ', not valid'}",
            *probe.evidence(), *measured, **numbers)
    served = sum(v for k, v in statuses.items() if k.isdigit() and 200 <= int(k) < 300)
    if failures and served == 0:
        return CheckResult.errored("the SUT stopped answering during the burst",
                                   *failures[0].evidence(), *measured)
    summary = (f"no rate limit: {sent} requests from one client in {elapsed:.1f} s "
               f"({rate:.0f}/s) got no 429")
    saturation = assess(monitor.figures) if monitor.figures is not None else None
    if saturation is not None and saturation.saturated:
        # A 429 seen is a fact on any host; its absence depends on how fast the burst went.
        return inconclusive_result(saturation, summary, *measured, advice="re-run on a quieter "
                                   "host", measurements=numbers)
    health = (health_evidence(saturation),) if saturation is not None else ()
    return CheckResult.failed(summary, *measured, *health, **numbers)
