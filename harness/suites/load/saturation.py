"""The load suite's timing verdicts on a saturated run (docs/load.md "Saturation").

When ``harness.health.assess`` finds the load generator or the host saturated, a LOAD- check
never passes (its numbers were measured while popcert could not keep time) and fails only when
the failure is one that saturation cannot explain; otherwise it ends ``error``, inconclusive:

- latency (p95/p99): the SUT kept up with the offered rate (no queue a starved SUT could have
  built), and the endpoints whose floor (95% of their successful answers, timed from the actual
  send, so without the driver's lag) is above the limit carry more than the percentile's tail of
  the traffic. A saturated host delays some requests, not nearly every answer of an endpoint.
- error rate: the failures that a saturated client or a starved co-located SUT cannot cause
  (anything but 429, 503, 504, 408 and timeouts) alone exceed the limit.
- throughput: never; a starved load generator or SUT always explains a lower rate.
"""

from __future__ import annotations

import re
from pathlib import Path

from harness.checks import CheckResult, Status
from harness.health import Saturation, assess, health_evidence, inconclusive_result
from harness.suites.load.latency import CorrectedLatency
from harness.suites.load.runner import LoadOutcome
from harness.suites.load.stats import failure_counts

KEPT_UP_RATIO = 0.97  # as the capacity search's "holds": completed ≥ 97% of what came due
MIN_FLOOR_REQUESTS = 20  # fewer successful answers on an endpoint: no floor to speak of
# Failures a saturated client or a starved SUT on the same host can cause by themselves.
_EXPLAINED = re.compile(r"HTTP (?:429|503|504|408)\b|timeout|timed out|deadline", re.IGNORECASE)


def load_saturation(outcome: LoadOutcome) -> Saturation | None:
    """The run's health assessed, with the driver's send lag; None when it was not measured."""
    if outcome.health is None:
        return None
    lag = outcome.latency.send_lag_p99_ms if outcome.latency is not None else None
    return assess(outcome.health.with_send_lag(lag))


def latency_failure_unexplained(latency: CorrectedLatency | None, which: str,
                                limit_ms: float) -> str | None:
    """Why a percentile over ``limit_ms`` is the SUT's own doing even on a saturated host, or
    None when saturation could explain it."""
    if latency is None or latency.aggregated.requests == 0:
        return None
    if latency.delivered_ratio < KEPT_UP_RATIO:
        return None  # the SUT fell behind: a starved SUT queues too
    tail = 1 - float(which.rstrip("%")) / 100
    slow = [f for f in latency.service
            if f.requests >= MIN_FLOOR_REQUESTS and f.floor_ms > limit_ms]
    share = sum(f.requests for f in slow) / latency.aggregated.requests
    if not slow or share <= tail:
        return None
    named = ", ".join(f"{f.name} (floor {f.floor_ms:g} ms over {f.requests} answers)"
                      for f in slow)
    return (f"a failure saturation cannot explain: 95% of the successful answers of {named} "
            f"took longer than {limit_ms:g} ms even timed from their actual send, "
            f"{share:.0%} of all requests, while the SUT kept up with the offered rate "
            f"({latency.delivered_ratio:.0%})")


def errors_unexplained(failures_csv: Path, requests: int, max_error_rate: float) -> str | None:
    """Why an error rate over the limit is the SUT's own doing even on a saturated host."""
    if requests <= 0:
        return None
    counts = failure_counts(failures_csv, width=200)
    own = {error: n for error, n in counts.items() if not _EXPLAINED.search(error)}
    rate = sum(own.values()) / requests
    if rate <= max_error_rate:
        return None
    top = sorted(own.items(), key=lambda item: -item[1])[:3]
    return (f"a failure saturation cannot explain: {sum(own.values())} of {requests} requests "
            f"({rate:.2%}) failed with errors a slow client cannot cause ("
            + "; ".join(f"{n}× {error}" for error, n in top) + ")")


def judged(outcome: LoadOutcome, result: CheckResult, unexplained: str | None = None,
           ) -> CheckResult:
    """``result`` as the run's health allows: unchanged (with the health figures) when popcert
    was not saturated; on a saturated run a failure stands only with ``unexplained``, anything
    else is `error`, inconclusive."""
    saturation = load_saturation(outcome)
    if saturation is None or result.status not in (Status.PASS, Status.FAIL):
        return result
    evidence = (health_evidence(saturation), *result.evidence)
    if not saturation.saturated:
        return CheckResult(result.status, result.summary, evidence, result.measurements)
    if result.status == Status.FAIL and unexplained:
        return CheckResult(Status.FAIL, f"{result.summary}; {unexplained} "
                           f"(popcert was saturated: {saturation.describe()})",
                           evidence, result.measurements)
    return inconclusive_result(saturation, result.summary, *result.evidence,
                               measurements=result.measurements)
