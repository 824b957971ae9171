"""Conformance suite: schemathesis fuzzes every bearer-protected operation of connection/v1.

The fuzz run happens once, in the suite context; each CONF- check reads its share of the outcome
(failures are attributed by root cause in ``conformance_mapping``). The notifications webhook is
HMAC-signed, not bearer-protected, so it is left to the scenario and auth suites (docs/conformance.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from harness import resources
from harness.checks import CheckResult, Evidence, Severity, check
from harness.errors import OutOfScopeError
from harness.net import Exchange, TlsMaterial, curl_command
from harness.suites.base import RunContext, suite_context
from harness.suites.conformance_drift import Drift, breaking_changes
from harness.suites.conformance_latency import (
    DEFAULT_SAMPLES,
    P90_FACTOR,
    PHASE_LIMIT_S,
    LatencyReport,
    OperationTiming,
    measure,
    timed_operations,
)
from harness.suites.conformance_mapping import CHECK_IDS
from harness.suites.conformance_runner import FuzzOutcome, FuzzPlan, run_schemathesis

SPEC_PATH = resources.data_path("specs", "connection", "v1", "openapi.yaml")
REQUIREMENT = "connection/v1 openapi.yaml"
# Problems that mean schemathesis could not talk to the SUT, so a clean run proves nothing.
_BLOCKING_PROBLEMS = ("timeout", "fatal", "no report", "exited abnormally", "Connection",
                      "Timeout", "SSL", "Reset", "Protocol")


@dataclass
class PublishedSpec:
    url: str | None = None
    document: dict[str, Any] | None = None
    error: str | None = None
    drifts: list[Drift] = field(default_factory=list)
    tried: list[str] = field(default_factory=list)
    answered: bool = False  # whether any candidate URL got an HTTP answer at all


@dataclass
class ConformanceContext:
    plan: FuzzPlan | None
    outcome: FuzzOutcome | None
    setup_error: str | None
    max_response_time_ms: float | None
    published: PublishedSpec
    latency: LatencyReport | None = None
    openapi_required: bool = False  # the profile makes a published spec mandatory


def load_spec(path: Path = SPEC_PATH) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(document, dict):
        raise ValueError(f"{path}: not an OpenAPI document")
    return document


def bearer_scheme(spec: dict[str, Any]) -> str | None:
    schemes = (spec.get("components") or {}).get("securitySchemes") or {}
    for name, scheme in schemes.items():
        if isinstance(scheme, dict) and scheme.get("type") == "http" \
                and str(scheme.get("scheme", "")).lower() == "bearer":
            return str(name)
    return None


def hmac_operation_paths(spec: dict[str, Any]) -> list[str]:
    """Paths of the webhook operations: signed with X-NPDB-Signature, not a bearer token."""
    bearer = bearer_scheme(spec)
    schemes = (spec.get("components") or {}).get("securitySchemes") or {}
    found = []
    for path, item in (spec.get("paths") or {}).items():
        for method, operation in (item or {}).items():
            if not isinstance(operation, dict) or method.startswith("x-"):
                continue
            headers = {str(p.get("name", "")).lower() for p in operation.get("parameters") or []
                       if isinstance(p, dict)}
            security = operation.get("security", spec.get("security")) or []
            names = {n for requirement in security for n in requirement}
            signed = any(str((schemes.get(n) or {}).get("name", "")).lower() == "x-npdb-signature"
                         for n in names)
            if "x-npdb-signature" in headers or signed or (
                    names and bearer not in names and path.rstrip("/").endswith("notifications")):
                found.append(path)
    return sorted(set(found))


def base_path(spec: dict[str, Any]) -> str:
    servers = spec.get("servers") or [{}]
    return urlsplit(str(servers[0].get("url", ""))).path.rstrip("/")


def plan_for(run: RunContext, spec: dict[str, Any], token: str) -> FuzzPlan:
    target = run.config.target
    prefix = base_path(spec)
    base_url = target.base_url if target.base_url.endswith(prefix) else target.base_url + prefix
    if run.quick:
        examples = int(run.threshold("conformance", "quick_max_examples", 5))
    else:
        examples = int(run.threshold("conformance", "max_examples", 50))
    limit_ms = run.threshold("conformance", "max_response_time_ms", None)
    suite_limit = run.config.limits.suite_s.get("conformance", run.config.limits.default_suite_s)
    hmac_paths = hmac_operation_paths(spec)
    return FuzzPlan(
        spec_path=SPEC_PATH, base_url=base_url, token=token,
        workdir=run.workdir / "conformance", seed=run.seed, max_examples=examples,
        max_response_time_s=float(limit_ms) / 1000 if limit_ms else None,
        ca_bundle=target.ca_bundle, client_cert=target.client_cert, client_key=target.client_key,
        bearer_scheme=bearer_scheme(spec),
        exclude_path_regex="^(" + "|".join(hmac_paths) + ")$" if hmac_paths else None,
        request_timeout_s=target.timeout_s,
        # Leave the latency timing its phase, and the checks and the drift fetch a minute.
        wall_timeout_s=max(30.0, min(suite_limit - 60 - PHASE_LIMIT_S,
                                     180.0 if run.quick else 900.0)))


def mint_portal_token(run: RunContext, lifetime_s: int) -> str:
    return run.portal().token(lifetime_s=lifetime_s)


def fetch_published_spec(run: RunContext, spec: dict[str, Any], token: str) -> PublishedSpec:
    target = run.config.target
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(target.base_url))
    candidates = [target.openapi_url] if target.openapi_url else []
    candidates += [target.base_url + base_path(spec) + "/openapi.json", origin + "/openapi.json"]
    published = PublishedSpec()
    with run.http(max_bytes=5_000_000) as client:
        for url in dict.fromkeys(c for c in candidates if c):
            for headers in ({}, {"Authorization": f"Bearer {token}"}):
                exchange = client.request("GET", url, headers=headers)
                document = exchange.json() if exchange.status == 200 else None
                if isinstance(document, dict) and "paths" in document:
                    published.url, published.document = url, document
                    published.drifts = breaking_changes(spec, document)
                    return published
                published.answered |= exchange.status is not None
                published.error = exchange.error or f"GET {url} -> {exchange.status}" + (
                    ", not an OpenAPI document" if exchange.status == 200 else "")
                published.tried.append(published.error)
    return published


@suite_context("conformance")
def make_context(run: RunContext) -> Iterator[ConformanceContext]:
    limit_ms = run.threshold("conformance", "max_response_time_ms", None)
    published = PublishedSpec(error="not fetched")
    try:
        spec = load_spec()
        run.scope.check_url(run.config.target.base_url)
        token = mint_portal_token(run, lifetime_s=3600)
        plan = plan_for(run, spec, token)
    except (OSError, ValueError, OutOfScopeError, ImportError, yaml.YAMLError) as cannot:
        yield ConformanceContext(None, None, f"{type(cannot).__name__}: {cannot}", limit_ms,
                                 published)
        return
    # Timed first, while the SUT is fresh: the fuzzing leaves queues and background work behind.
    latency = time_operations(run, spec, plan, token)
    published = fetch_published_spec(run, spec, token)
    outcome = run_schemathesis(plan)
    yield ConformanceContext(plan, outcome, None, limit_ms, published, latency,
                             openapi_required=run.profile.is_mandatory("CONF-SPEC-DRIFT"))


def time_operations(run: RunContext, spec: dict[str, Any], plan: FuzzPlan,
                    token: str) -> LatencyReport:
    operations = timed_operations(spec, plan.bearer_scheme, hmac_operation_paths(spec))
    # At least 3 samples for a median; at most 50, so a typo cannot flood the SUT.
    samples = max(3, min(50, int(run.threshold("conformance", "latency_samples", DEFAULT_SAMPLES))))
    with run.http() as client:
        return measure(client, plan.base_url, token, operations,
                       run.profile.thresholds.get("conformance", {}), samples=samples)


def _blocking(outcome: FuzzOutcome) -> list[str]:
    return [f"{p.title}: {p.message}" for p in outcome.problems
            if any(word in p.title or word in p.message for word in _BLOCKING_PROBLEMS)]


def _run_evidence(ctx: ConformanceContext) -> list[Evidence]:
    assert ctx.outcome is not None and ctx.plan is not None
    outcome = ctx.outcome
    return [Evidence.measurement("requests", outcome.requests, "requests"),
            Evidence.measurement("operations_tested", outcome.operations_tested, "operations"),
            Evidence.measurement("duration", round(outcome.duration_s, 1), "s"),
            Evidence.measurement("seed", outcome.seed),
            Evidence.reproduction(outcome.command, title="rerun the fuzzing with this seed "
                                  "(set POPCERT_CONF_TOKEN to a portal token first)")]


def verdict_for(ctx: ConformanceContext, check_id: str, what: str) -> CheckResult:
    """Shared decision of every fuzzing check: fail on findings, error if the run was unusable."""
    if ctx.setup_error or ctx.outcome is None or ctx.plan is None:
        return CheckResult.errored(f"conformance run could not start: {ctx.setup_error}")
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
            evidence.append(Evidence.reproduction(finding.curl + f"  # seed {outcome.seed}"))
        operations = sorted({f.operation for f in outcome.findings_for(names)})
        return CheckResult.failed(
            f"{count} request(s) showed {what} on {', '.join(operations)} (seed {outcome.seed})",
            *evidence, *_run_evidence(ctx), failed_requests=float(count))
    blocking = _blocking(outcome)
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


@check("CONF-SERVER-ERRORS", suite="conformance", severity=Severity.HIGH,
       requirement=f"{REQUIREMENT}: no 5xx for any input, valid or not",
       defect="conformance.server_error_on_bad_input", timeout_s=30)
def no_server_errors(ctx: ConformanceContext) -> CheckResult:
    """The API never answers a 5xx, whatever it is sent"""
    return verdict_for(ctx, "CONF-SERVER-ERRORS", "server errors (5xx)")


@check("CONF-STATUS-CODE", suite="conformance", severity=Severity.MEDIUM,
       requirement=f"{REQUIREMENT}: responses use only documented status codes",
       defect="conformance.undocumented_status", timeout_s=30)
def documented_status_codes(ctx: ConformanceContext) -> CheckResult:
    """Every status code the API returns is documented"""
    return verdict_for(ctx, "CONF-STATUS-CODE", "undocumented status codes")


@check("CONF-CONTENT-TYPE", suite="conformance", severity=Severity.MEDIUM,
       requirement=f"{REQUIREMENT}: responses carry the documented media type",
       defect="conformance.wrong_content_type", timeout_s=30)
def documented_content_types(ctx: ConformanceContext) -> CheckResult:
    """Every response carries its documented Content-Type"""
    return verdict_for(ctx, "CONF-CONTENT-TYPE", "undocumented content types")


@check("CONF-RESPONSE-SCHEMA", suite="conformance", severity=Severity.HIGH,
       requirement=f"{REQUIREMENT}: response bodies and headers match their schemas",
       defect="schema.dob_wrong_format", timeout_s=30)
def responses_match_schema(ctx: ConformanceContext) -> CheckResult:
    """Response bodies and headers match the documented schemas"""
    return verdict_for(ctx, "CONF-RESPONSE-SCHEMA", "schema violations in responses")


@check("CONF-NEGATIVE-DATA", suite="conformance", severity=Severity.HIGH,
       requirement=f"{REQUIREMENT}: input that violates the schema is rejected with 4xx",
       defect="conformance.accepts_invalid_input", timeout_s=30)
def rejects_invalid_input(ctx: ConformanceContext) -> CheckResult:
    """Input that violates the schema is rejected"""
    return verdict_for(ctx, "CONF-NEGATIVE-DATA", "acceptance of invalid input")


@check("CONF-AUTH-IGNORED", suite="conformance", severity=Severity.CRITICAL,
       requirement=f"{REQUIREMENT} §security: bearer token required on every protected operation",
       defect="auth.no_token_accepted", timeout_s=30)  # also caught by the auth suite
def auth_enforced(ctx: ConformanceContext) -> CheckResult:
    """Protected operations refuse requests without valid credentials"""
    return verdict_for(ctx, "CONF-AUTH-IGNORED", "ignored authentication")


@check("CONF-STATEFUL", suite="conformance", severity=Severity.MEDIUM,
       requirement=f"{REQUIREMENT} links: a created dossier is readable, a removed one is gone",
       defect="conformance.not_readable_after_create", timeout_s=30)
def stateful_links(ctx: ConformanceContext) -> CheckResult:
    """Created resources are available and deleted ones are gone (stateful links)"""
    return verdict_for(ctx, "CONF-STATEFUL", "resource availability or use-after-free faults")


@check("CONF-RESPONSE-TIME", suite="conformance", severity=Severity.LOW,
       requirement="profile thresholds.conformance.max_response_time_ms",
       defect="conformance.slow_responses", timeout_s=30)
def response_time(ctx: ConformanceContext) -> CheckResult:
    """Every fuzzed request is answered within the profile's response-time limit"""
    if ctx.max_response_time_ms is None:
        return CheckResult.skipped("the profile sets no conformance.max_response_time_ms")
    return verdict_for(ctx, "CONF-RESPONSE-TIME",
                       f"responses slower than {ctx.max_response_time_ms:g} ms")


def _timing_curl(plan: FuzzPlan, exchange: Exchange) -> str:
    """curl printing the total time; the token is a shell variable, never the value."""
    headers = {k: v for k, v in exchange.request_headers.items() if k.lower() != "authorization"}
    command = curl_command(exchange.method, exchange.url, headers, exchange.request_body,
                           TlsMaterial(plan.ca_bundle, plan.client_cert, plan.client_key))
    command = command.replace("curl -sS", "curl -sS -o /dev/null -w '%{time_total} s\\n'", 1)
    if "authorization" in {k.lower() for k in exchange.request_headers}:
        command += ' -H "Authorization: Bearer $POPCERT_CONF_TOKEN"'
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


@check("CONF-LATENCY-BUDGET", suite="conformance", severity=Severity.MEDIUM,
       requirement="profile thresholds.conformance.latency_budget_ms: median latency of valid "
                   f"requests per operation within its budget, p90 within {P90_FACTOR:g}x",
       defect=("conformance.slow_every_response", "conformance.slow_responses"), timeout_s=30)
def latency_budget(ctx: ConformanceContext) -> CheckResult:
    """Every operation answers valid requests within its latency budget (median and p90)"""
    if ctx.setup_error or ctx.plan is None:
        return CheckResult.errored(f"conformance run could not start: {ctx.setup_error}")
    report = ctx.latency
    if report is None:
        return CheckResult.errored("the operations were not timed")
    evidence = [e for timing in report.timings for e in _timing_evidence(timing)]
    over = [t for t in report.timings if t.over_budget]
    if over:
        for timing in over[:5]:
            if timing.slowest is not None:
                evidence += [*timing.slowest.evidence(),
                             Evidence.reproduction(_timing_curl(ctx.plan, timing.slowest),
                                                   title="time one request")]
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


@check("CONF-SPEC-DRIFT", suite="conformance", severity=Severity.MEDIUM,
       requirement="connection/v1: the published /openapi.json is compatible with the shared spec",
       defect="conformance.spec_drift", timeout_s=30)
def spec_drift(ctx: ConformanceContext) -> CheckResult:
    """The SUT's published OpenAPI document has no breaking change against the shared spec"""
    if ctx.setup_error:
        return CheckResult.errored(f"conformance run could not start: {ctx.setup_error}")
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
    if published.drifts:
        return CheckResult.failed(
            f"{len(published.drifts)} breaking change(s) in {published.url}",
            *[Evidence.finding(published.url or "", None, d.kind, f"{d.location}: {d.detail}")
              for d in published.drifts[:50]],
            Evidence.reproduction(f"curl -sS --cacert CA {published.url}"),
            breaking_changes=float(len(published.drifts)))
    return CheckResult.passed(f"{published.url} is compatible with the shared spec",
                              Evidence.note(str(published.url), title="published spec"))
