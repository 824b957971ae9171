"""The CONF- checks: each reads its share of the one fuzzing run, the latency timings or the
published spec from the context (harness/suites/conformance/context.py)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from harness.checks import CheckResult, Evidence, Severity, ShellVariable, check
from harness.net import (
    CA_BUNDLE,
    RUN_CONFIG,
    Exchange,
    TlsMaterial,
    curl_command,
    rerun_command,
    tls_variables,
    token_variable,
)
from harness.suites.conformance.latency import P90_FACTOR, OperationTiming
from harness.suites.conformance.latency import judged as judged_latency
from harness.suites.conformance.mapping import CHECK_IDS
from harness.suites.conformance.runner import REQUEST_LOG, FuzzOutcome, FuzzPlan
from harness.sut.portal import PORTAL, PORTAL_SCOPES

if TYPE_CHECKING:
    from harness.suites.conformance.context import ConformanceContext

# Problems that mean schemathesis could not talk to the SUT, so a clean run proves nothing.
_BLOCKING_PROBLEMS = ("timeout", "fatal", "no report", "exited abnormally", "Connection",
                      "Timeout", "SSL", "Reset", "Protocol")


# A run whose answers are mostly "come back later" judged nothing: a SUT that throttles every
# request (Retry-After: 0 included) would otherwise pass every CONF- check. A compliant system is
# waited out (rate-limit auto): the reference system's full run ends with no 429 at all.
THROTTLED_SHARE = 0.2


def _blocking(outcome: FuzzOutcome) -> list[str]:
    return [f"{p.title}: {p.message}" for p in outcome.problems
            if any(word in p.title or word in p.message for word in _BLOCKING_PROBLEMS)]


def _run_evidence(ctx: ConformanceContext) -> list[Evidence]:
    outcome = ctx.outcome
    return [Evidence.measurement("requests", outcome.requests, "requests"),
            Evidence.measurement("operations_tested", outcome.operations_tested, "operations"),
            Evidence.measurement("duration", round(outcome.duration_s, 1), "s"),
            Evidence.measurement("seed", outcome.seed),
            Evidence.reproduction(rerun_command("conformance", outcome.seed),
                                  title="rerun the fuzzing with this seed",
                                  variables=[RUN_CONFIG]),
            Evidence.note(outcome.command, title="schemathesis command line (popcert's own "
                          "files; its token is POPCERT_CONF_TOKEN)"),
            Evidence.note(json.dumps(outcome.replay, indent=1, sort_keys=True),
                          title="replay: the same seed, versions, phases and example budget against "
                                "the same SUT behaviour send the same requests (request_sequence_sha256; "
                                f"the sequence is work/conformance/{REQUEST_LOG} of the run folder)")]


def verdict_for(ctx: ConformanceContext, check_id: str, what: str) -> CheckResult:
    """Shared decision of every fuzzing check: fail on findings, error if the run was unusable."""
    outcome = ctx.outcome
    names = {name for name, cid in CHECK_IDS.items() if cid == check_id}
    count = sum(n for name, n in outcome.failure_counts.items() if name in names)
    if count:
        evidence: list[Evidence] = []
        for finding in outcome.findings_for(names):
            title = f"{finding.operation}: {finding.title} ({finding.code}, {finding.phase})"
            evidence.append(Evidence.note(finding.message or finding.title, title=title))
            evidence.append(Evidence.request(finding.request["method"], finding.request["url"],
                                             finding.request["headers"], finding.request["body"]))
            if finding.response is not None:
                evidence.append(Evidence.response(**finding.response))
            evidence.append(Evidence.reproduction(finding.curl + f"  # seed {outcome.seed}",
                                                  variables=_variables(ctx.plan)))
        operations = sorted({f.operation for f in outcome.findings_for(names)})
        return CheckResult.failed(
            f"{count} request(s) showed {what} on {', '.join(operations)} (seed {outcome.seed})",
            *evidence, *_run_evidence(ctx), failed_requests=float(count))
    blocking = _blocking(outcome)
    if outcome.requests and outcome.throttled > THROTTLED_SHARE * outcome.requests:
        blocking.append(f"the SUT answered {outcome.throttled} of {outcome.requests} requests 429 "
                        "(or 503 with Retry-After) even after waiting out Retry-After: those "
                        "requests were not judged")
    if blocking or not outcome.complete or outcome.requests == 0:
        reasons = blocking or ["the run did not complete" if not outcome.complete
                               else "no request reached the SUT"]
        return CheckResult.errored(
            f"cannot decide: {reasons[0]}",
            *[Evidence.note(r, title="run problem") for r in reasons[:10]],
            Evidence.note(outcome.stderr_tail, title="schemathesis output (tail)"),
            *_run_evidence(ctx))
    return CheckResult.passed(
        f"no {what} in {outcome.requests} requests over {outcome.operations_tested} operations "
        f"(seed {outcome.seed})", *_run_evidence(ctx), requests=float(outcome.requests))


@check("CONF-SERVER-ERRORS", severity=Severity.HIGH,
       requirements=["CONN-NO-SERVER-ERROR"],
       defect="conformance.server_error_on_bad_input", timeout_s=30)
def no_server_errors(ctx: ConformanceContext) -> CheckResult:
    """The API never answers a 5xx, whatever it is sent."""
    return verdict_for(ctx, "CONF-SERVER-ERRORS", "server errors (5xx)")


@check("CONF-STATUS-CODE", severity=Severity.MEDIUM,
       requirements=["CONN-OPENAPI-STATUS-CODES"],
       defect="conformance.undocumented_status", timeout_s=30)
def documented_status_codes(ctx: ConformanceContext) -> CheckResult:
    """Every status code the API returns is documented."""
    return verdict_for(ctx, "CONF-STATUS-CODE", "undocumented status codes")


@check("CONF-CONTENT-TYPE", severity=Severity.MEDIUM,
       requirements=["CONN-OPENAPI-MEDIA-TYPE"],
       defect="conformance.wrong_content_type", timeout_s=30)
def documented_content_types(ctx: ConformanceContext) -> CheckResult:
    """Every response carries its documented Content-Type."""
    return verdict_for(ctx, "CONF-CONTENT-TYPE", "undocumented content types")


@check("CONF-RESPONSE-SCHEMA", severity=Severity.HIGH,
       requirements=["CONN-OPENAPI-SCHEMAS", "CONN-HEALTH", "CONN-RESPONSE-DOSSIER",
                     "CONN-RESPONSE-DOSSIER-LIST", "CONN-RESPONSE-ERROR"],
       defect="schema.dob_wrong_format", timeout_s=30)
def responses_match_schema(ctx: ConformanceContext) -> CheckResult:
    """Response bodies and headers match the documented schemas."""
    return verdict_for(ctx, "CONF-RESPONSE-SCHEMA", "schema violations in responses")


@check("CONF-NEGATIVE-DATA", severity=Severity.HIGH,
       requirements=["CONN-INVALID-INPUT", "CONN-INPUT-PERSONAL-ID", "CONN-INPUT-FULL-NAME",
                     "CONN-INPUT-DATE", "CONN-INPUT-NO-EXTRA-FIELDS", "CONN-INPUT-PERSON",
                     "CONN-INPUT-ADDRESS", "CONN-INPUT-DISCRIMINATOR", "CONN-INPUT-PROCEDURE-CODES",
                     "CONN-INPUT-BIRTH", "CONN-INPUT-MARRIAGE", "CONN-INPUT-DEATH", "CONN-INPUT-RESIDENCE",
                     "CONN-INPUT-REMOVAL", "CONN-INPUT-CHILD-INSURANCE", "CONN-INPUT-FUNERAL",
                     "CONN-INPUT-IDEMPOTENCY-KEY-FORMAT", "CONN-INPUT-BODY-REQUIRED"],
       defect="conformance.accepts_invalid_input", timeout_s=30)
def rejects_invalid_input(ctx: ConformanceContext) -> CheckResult:
    """Input that violates the schema is rejected."""
    return verdict_for(ctx, "CONF-NEGATIVE-DATA", "acceptance of invalid input")


@check("CONF-POSITIVE-DATA", severity=Severity.MEDIUM,
       requirements=["CONN-VALID-INPUT-ACCEPTED"],
       title="Input that matches the documented schemas is never refused as invalid (400 or 422).",
       defect="conformance.rejects_valid_input", timeout_s=30)
def accepts_valid_input(ctx: ConformanceContext) -> CheckResult:
    """Input that matches the documented schemas is never refused as invalid (400 or 422)."""
    return verdict_for(ctx, "CONF-POSITIVE-DATA", "refusals of valid input")


@check("CONF-MISSING-HEADER", severity=Severity.HIGH,
       requirements=["CONN-SEC-JWT"],
       title="A request that leaves out a required header, the bearer token included, is refused: "
             "401 without the token.",
       defect="conformance.missing_token_403", timeout_s=30)
def missing_required_header(ctx: ConformanceContext) -> CheckResult:
    """A request that leaves out a required header, the bearer token included, is refused: 401
    without the token."""
    return verdict_for(ctx, "CONF-MISSING-HEADER", "requests without a required header not refused "
                       "as documented")


@check("CONF-AUTH-IGNORED", severity=Severity.CRITICAL,
       requirements=["CONN-SEC-JWT"],
       defect="auth.no_token_accepted", timeout_s=30)  # also caught by the auth suite
def auth_enforced(ctx: ConformanceContext) -> CheckResult:
    """Protected operations refuse requests without valid credentials."""
    return verdict_for(ctx, "CONF-AUTH-IGNORED", "ignored authentication")


@check("CONF-STATEFUL", severity=Severity.MEDIUM,
       requirements=["CONN-LINK-GET-DOSSIER"],
       defect="conformance.not_readable_after_create", timeout_s=30)
def stateful_links(ctx: ConformanceContext) -> CheckResult:
    """Created resources are available and deleted ones are gone (stateful links)."""
    return verdict_for(ctx, "CONF-STATEFUL", "resource availability or use-after-free faults")


@check("CONF-RESPONSE-TIME", severity=Severity.LOW,
       requirements=["PROFILE-CONF-RESPONSE-TIME"],
       defect="conformance.slow_responses", timeout_s=30)
def response_time(ctx: ConformanceContext) -> CheckResult:
    """Every fuzzed request is answered within the profile's response-time limit."""
    if ctx.max_response_time_ms is None:
        return CheckResult.skipped("the profile sets no conformance.max_response_time_ms")
    return verdict_for(ctx, "CONF-RESPONSE-TIME",
                       f"responses slower than {ctx.max_response_time_ms:g} ms")


def _variables(plan: FuzzPlan) -> tuple[ShellVariable, ...]:
    """$CA_BUNDLE, $CLIENT_CERT, $CLIENT_KEY and $TOKEN (the portal's, every scope) of a replay."""
    return (*tls_variables(TlsMaterial(plan.ca_bundle, plan.client_cert, plan.client_key)),
            token_variable(PORTAL, PORTAL_SCOPES))


def _timing_curl(plan: FuzzPlan, exchange: Exchange) -> str:
    """curl printing the total time; the token is a shell variable, never the value."""
    headers = {k: v for k, v in exchange.request_headers.items() if k.lower() != "authorization"}
    command = curl_command(exchange.method, exchange.url, headers, exchange.request_body,
                           TlsMaterial(plan.ca_bundle, plan.client_cert, plan.client_key))
    command = command.replace("curl -sS", "curl -sS -o /dev/null -w '%{time_total} s\\n'", 1)
    if "authorization" in {k.lower() for k in exchange.request_headers}:
        command += ' -H "Authorization: Bearer $TOKEN"'
    return command


def _timing_evidence(timing: OperationTiming) -> list[Evidence]:
    label = f"{timing.operation.operation_id} ({timing.operation.label})"
    if not timing.timed:
        return [Evidence.note(timing.problem or "not timed", title=label)]
    return [Evidence.measurement(f"{timing.operation.operation_id} median", timing.median_ms, "ms",
                                 limit=timing.budget_ms, title=f"{label}: median"),
            Evidence.measurement(f"{timing.operation.operation_id} p90", timing.p90_ms, "ms",
                                 limit=P90_FACTOR * timing.budget_ms, title=f"{label}: p90"),
            Evidence.measurement(f"{timing.operation.operation_id} samples",
                                 len(timing.samples_ms), "requests", title=f"{label}: samples")]


@check("CONF-LATENCY-BUDGET", severity=Severity.MEDIUM,
       requirements=["PROFILE-CONF-LATENCY-BUDGET"],
       defect=("conformance.slow_every_response", "conformance.slow_responses"), timeout_s=30)
def latency_budget(ctx: ConformanceContext) -> CheckResult:
    """Every operation answers valid requests within its latency budget (median and p90)."""
    # On a saturated host: inconclusive unless saturation cannot explain it (latency.judged).
    return judged_latency(ctx.latency, _latency_budget(ctx))


def _latency_budget(ctx: ConformanceContext) -> CheckResult:
    report = ctx.latency
    evidence = [e for timing in report.timings for e in _timing_evidence(timing)]
    over = [t for t in report.timings if t.over_budget]
    if over:
        for timing in over[:5]:
            if timing.slowest is not None:
                evidence += [*timing.slowest.evidence(),
                             Evidence.reproduction(_timing_curl(ctx.plan, timing.slowest),
                                                   title="time one request",
                                                   variables=_variables(ctx.plan))]
        worst = max(over, key=lambda t: (t.median_ms or 0) / t.budget_ms)
        return CheckResult.failed(
            f"{len(over)} operation(s) over their latency budget: " + ", ".join(
                f"{t.operation.operation_id} median {t.median_ms:g} ms / p90 {t.p90_ms:g} ms "
                f"(budget {t.budget_ms:g} ms)" for t in over),
            *evidence, worst_median_ms=float(worst.median_ms or 0.0))
    timed = [t for t in report.timings if t.timed]
    if not timed:
        reason = report.aborted or "no operation could be timed"
        extra = list(report.aborted_exchange.evidence()) if report.aborted_exchange else []
        return CheckResult.errored(f"cannot decide: {reason}", *evidence, *extra)
    untimed = [t.operation.operation_id for t in report.timings if not t.timed]
    return CheckResult.passed(
        f"{len(timed)} operation(s) within their latency budget (slowest median "
        f"{max(t.median_ms or 0 for t in timed):g} ms)"
        + (f"; not timed: {', '.join(untimed)}" if untimed else ""),
        *evidence, operations_timed=float(len(timed)))


@check("CONF-SPEC-DRIFT", severity=Severity.MEDIUM,
       requirements=["PROFILE-PUBLISHED-OPENAPI"],
       defect="conformance.spec_drift", timeout_s=30)
def spec_drift(ctx: ConformanceContext) -> CheckResult:
    """The SUT's published OpenAPI document has no breaking change against the shared spec."""
    published = ctx.published
    if published.document is None:
        # Mandatory where the profile makes this check mandatory (province, ministry): without
        # the vendor's own document nobody can tell its API from the shared one.
        missing = (f"the SUT publishes no OpenAPI document ({published.error}): publish it at "
                   "<base_url>/openapi.json or set target.openapi_url in run.yaml")
        tried = Evidence.note("\n".join(published.tried) or "nothing", title="URLs tried")
        if not published.answered:
            return CheckResult.errored(f"cannot decide: no HTTP answer ({published.error})", tried)
        if ctx.openapi_required:
            return CheckResult.failed(missing, tried)
        return CheckResult.skipped(missing + " (advisory at this level)", tried)
    if published.drifts and published.drifts[0].kind == "invalid_document":
        # issue 24: validated before it is compared; the validator's error is the finding
        return CheckResult.failed(
            f"{published.url}: {published.drifts[0].detail}",
            Evidence.finding(published.url or "", None, "invalid_document",
                             published.drifts[0].detail),
            Evidence.reproduction(f'curl -sS --cacert "$CA_BUNDLE" {published.url} > '
                                  "published.json && openapi-spec-validator published.json",
                                  variables=[CA_BUNDLE]),
            breaking_changes=1.0)
    if published.drifts:
        return CheckResult.failed(
            f"{len(published.drifts)} breaking change(s) in {published.url}",
            *[Evidence.finding(published.url or "", None, d.kind, f"{d.location}: {d.detail}")
              for d in published.drifts[:50]],
            Evidence.reproduction(f'curl -sS --cacert "$CA_BUNDLE" {published.url}',
                                  variables=[CA_BUNDLE]),
            breaking_changes=float(len(published.drifts)))
    return CheckResult.passed(f"{published.url} is compatible with the shared spec",
                              Evidence.note(str(published.url), title="published spec"))
