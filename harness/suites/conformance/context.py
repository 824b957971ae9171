"""What every CONF- check receives: one fuzzing run, the latency timings and the published spec,
made once by ``make_context``; a run that cannot start raises SuiteUnavailable."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import yaml

from harness.checks import Evidence, SuiteUnavailable
from harness.errors import OutOfScopeError
from harness.run_context import RunContext
from harness.suites.conformance.drift import Drift, assess
from harness.suites.conformance.latency import (
    DEFAULT_SAMPLES,
    PHASE_LIMIT_S,
    LatencyReport,
    measure,
    timed_operations,
)
from harness.suites.conformance.runner import FuzzOutcome, FuzzPlan, run_schemathesis
from harness.suites.conformance.spec import (
    SPEC_PATH,
    base_path,
    bearer_scheme,
    hmac_operation_paths,
    load_spec,
)


@dataclass
class PublishedSpec:
    url: str | None = None
    document: dict[str, Any] | None = None
    error: str | None = None
    drifts: list[Drift] = field(default_factory=list)
    tried: list[str] = field(default_factory=list)
    answered: bool = False  # whether any candidate URL got an HTTP answer at all


@dataclass(frozen=True)
class ConformanceContext:
    plan: FuzzPlan
    outcome: FuzzOutcome
    max_response_time_ms: float | None
    published: PublishedSpec
    latency: LatencyReport
    openapi_required: bool = False  # the profile makes a published spec mandatory


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
                    published.drifts = assess(spec, document)
                    return published
                published.answered |= exchange.status is not None
                published.error = exchange.error or f"GET {url} -> {exchange.status}" + (
                    ", not an OpenAPI document" if exchange.status == 200 else "")
                published.tried.append(published.error)
    return published


def time_operations(run: RunContext, spec: dict[str, Any], plan: FuzzPlan,
                    token: str) -> LatencyReport:
    operations = timed_operations(spec, plan.bearer_scheme, hmac_operation_paths(spec))
    # At least 3 samples for a median; at most 50, so a typo cannot flood the SUT.
    samples = max(3, min(50, int(run.threshold("conformance", "latency_samples", DEFAULT_SAMPLES))))
    with run.http() as client:
        return measure(client, plan.base_url, token, operations,
                       run.profile.thresholds.get("conformance", {}), samples=samples)


def make_context(run: RunContext) -> Iterator[ConformanceContext]:
    """Time the operations, fetch the published spec, then fuzz once; every check reads that."""
    limit_ms = run.threshold("conformance", "max_response_time_ms", None)
    try:
        spec = load_spec()
        run.scope.check_url(run.config.target.base_url)
        token = run.portal().token(lifetime_s=3600)
        plan = plan_for(run, spec, token)
    except (OSError, ValueError, OutOfScopeError, ImportError, yaml.YAMLError) as cannot:
        reason = f"{type(cannot).__name__}: {cannot}"
        raise SuiteUnavailable(f"conformance run could not start: {reason}",
                               Evidence.note(reason, title="setup failure")) from None
    def say(text: str) -> None:
        run.live.phase_update("conformance", text)

    # Timed first, while the SUT is fresh: the fuzzing leaves queues and background work behind.
    say("timing each operation")
    latency = time_operations(run, spec, plan, token)
    say("fetching the published OpenAPI document")
    published = fetch_published_spec(run, spec, token)
    say("starting schemathesis")
    outcome = run_schemathesis(plan, on_progress=say)
    yield ConformanceContext(plan, outcome, limit_ms, published, latency,
                             openapi_required=run.profile.is_mandatory("CONF-SPEC-DRIFT"))
