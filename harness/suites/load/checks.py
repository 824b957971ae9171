"""The LOAD-* checks: each reads the one locust run of the suite's context.

The decisions themselves live in ``thresholds.py`` (pure, tested from fixture CSVs).
"""

from __future__ import annotations

from harness.checks import CheckResult, Severity, check
from harness.suites.load.context import LoadContext
from harness.suites.load.thresholds import (
    evaluate_error_rate,
    evaluate_p95,
    evaluate_p99,
    evaluate_throughput,
)


# A system that cannot keep up also queues: low capacity breaks the latency checks too.
@check("LOAD-THROUGHPUT", severity=Severity.HIGH,
       requirements=["PROFILE-LOAD-THROUGHPUT"], defect=("load.low_capacity",))
def throughput(ctx: LoadContext) -> CheckResult:
    """Sustains the profile's target rate of successful requests."""
    return evaluate_throughput(ctx.outcome, ctx.thresholds)


@check("LOAD-LATENCY-P95", severity=Severity.MEDIUM,
       requirements=["PROFILE-LOAD-LATENCY-P95"], defect=("load.slow_path", "load.low_capacity"))
def latency_p95(ctx: LoadContext) -> CheckResult:
    """95th percentile response time within the profile's limit under load."""
    return evaluate_p95(ctx.outcome, ctx.thresholds)


@check("LOAD-LATENCY-P99", severity=Severity.MEDIUM,
       requirements=["PROFILE-LOAD-LATENCY-P99"], defect=("load.slow_path", "load.low_capacity"))
def latency_p99(ctx: LoadContext) -> CheckResult:
    """99th percentile response time within the profile's limit under load."""
    return evaluate_p99(ctx.outcome, ctx.thresholds)


@check("LOAD-ERROR-RATE", severity=Severity.HIGH,
       requirements=["PROFILE-LOAD-ERROR-RATE"], defect=("load.errors_under_load",))
def error_rate(ctx: LoadContext) -> CheckResult:
    """Error rate under load within the profile's limit."""
    return evaluate_error_rate(ctx.outcome, ctx.thresholds)
