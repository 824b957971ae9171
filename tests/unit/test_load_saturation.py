"""Timing verdicts on a saturated run (harness/suites/load/saturation.py, conformance latency):
never FAIL the vendor for popcert's saturation, never PASS on numbers measured while saturated,
and a slow SUT still fails. Synthetic figures and fixture CSVs, no locust, no clock."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from harness.checks import CheckResult, Status
from harness.health import Calibration, HealthFigures, ProcessCpu
from harness.suites.conformance.latency import (
    LatencyReport,
    OperationTiming,
    TimedOperation,
)
from harness.suites.conformance.latency import judged as judged_budget
from harness.suites.load.latency import LatencyRecorder, latency_path, read_latency
from harness.suites.load.runner import LoadOutcome
from harness.suites.load.saturation import errors_unexplained
from harness.suites.load.thresholds import (
    evaluate_error_rate,
    evaluate_p95,
    evaluate_p99,
    evaluate_throughput,
)
from tests.unit.test_load_thresholds import LIMITS, write_run

CALM = Calibration(20, 3.1, 3.4, 4.0, 1.02, 1.1)
POST = "POST /connection/v1/dossiers"
GET = "GET /connection/v1/dossiers/{dossier_id}"


def figures(*, saturated: bool) -> HealthFigures:
    """A 2-core host: quiet, or saturated the way the issue's CI runner was (load average 7)."""
    return HealthFigures(
        "load run", 2, 10.0, runnable_per_core=3.5 if saturated else 0.7,
        runnable_per_core_max=4.0, load1_max=7.0 if saturated else 1.1, steal_share=0.0,
        busy_share=1.0, calibration_before=CALM, calibration_after=CALM,
        generator=(ProcessCpu("locust-master", 41, (20.0, 22.0, 21.0)),))


def outcome(tmp: Path, *, saturated: bool | None, post_ms: tuple[float, float],
            get_ms: float = 20.0, due: int = 200, send_lag_ms: float = 1.0) -> LoadOutcome:
    """A run whose POSTs (half the traffic) took ``post_ms`` = (from intended send, from
    the actual send) and GETs ``get_ms``; ``due`` requests came due for the 200 completed."""
    base = write_run(tmp)
    recorder = LatencyRecorder()
    for i in range(100):
        wall = 1000.0 + i / 10
        recorder.record(POST, post_ms[0] / 1000, True, wall, post_ms[1] / 1000)
        recorder.record(GET, get_ms / 1000, True, wall, get_ms / 1000)
        recorder.record_send_lag(send_lag_ms / 1000)
        recorder.record_send_lag(send_lag_ms / 1000)
    recorder.add_due(due)
    recorder.write(latency_path(base.job.csv_prefix))
    health = None if saturated is None else figures(saturated=saturated)
    return replace(base, latency=read_latency(latency_path(base.job.csv_prefix)), health=health)


def inconclusive(result: CheckResult) -> bool:
    return result.status == Status.ERROR and result.summary.startswith("inconclusive: ")


# --- the load suite ------------------------------------------------------------------------------
def test_a_saturated_run_turns_every_load_check_inconclusive_whatever_the_numbers(
        tmp_path: Path) -> None:
    """The issue's case: a compliant system over the bar on a saturated host, and one under it:
    neither FAIL nor PASS, `error` with the inconclusive text and the health figures."""
    slow_tail = outcome(tmp_path, saturated=True, post_ms=(472.0, 30.0))
    for evaluate in (evaluate_p95, evaluate_p99, evaluate_throughput, evaluate_error_rate):
        result = evaluate(slow_tail, LIMITS)
        assert inconclusive(result), (evaluate.__name__, result.summary)
        assert result.summary.startswith(
            "inconclusive: the host running popcert was saturated (3.5 runnable tasks per core "
            "≥ 3 (load average 7.0 on 2 cores)); re-run on a quieter host or add workers")
        assert result.evidence[0].title == "popcert's health during the load run"
        assert result.evidence[0].data["health"]["saturated"] is True
    p95 = evaluate_p95(slow_tail, LIMITS)
    assert "(measured: 95% latency 472 ms > 300 ms" in p95.summary
    assert p95.measurements["p95_ms"] == pytest.approx(472, rel=0.01)  # the figure stays
    assert inconclusive(evaluate_p95(outcome(tmp_path, saturated=True, post_ms=(40.0, 30.0)),
                                     LIMITS))  # within the bar, but measured saturated


def test_the_driver_lag_alone_saturates_the_generator(tmp_path: Path) -> None:
    lagging = outcome(tmp_path, saturated=False, post_ms=(900.0, 30.0), send_lag_ms=840.0)
    result = evaluate_p95(lagging, LIMITS)
    assert inconclusive(result)
    assert "the load generator was saturated (send lag p99 840 ms ≥ 50 ms)" in result.summary


def test_an_unsaturated_slow_sut_still_fails(tmp_path: Path) -> None:
    slow = outcome(tmp_path, saturated=False, post_ms=(620.0, 615.0))
    result = evaluate_p95(slow, LIMITS)
    assert result.status == Status.FAIL and "95% latency" in result.summary
    assert result.evidence[0].data["health"]["saturated"] is False  # the figures are shown
    assert evaluate_p99(slow, LIMITS).status == Status.FAIL
    assert evaluate_p95(outcome(tmp_path, saturated=False, post_ms=(40.0, 30.0)),
                        LIMITS).status == Status.PASS


def test_a_slow_sut_fails_even_on_a_saturated_host(tmp_path: Path) -> None:
    """Every POST answer over the bar even from its actual send, half the traffic, the SUT
    keeping up: saturation delays some requests, not nearly every answer of an endpoint."""
    slow = outcome(tmp_path, saturated=True, post_ms=(640.0, 615.0))
    for evaluate in (evaluate_p95, evaluate_p99):
        result = evaluate(slow, LIMITS)
        assert result.status == Status.FAIL, result.summary
        assert "a failure saturation cannot explain" in result.summary
        assert f"{POST} (floor 615 ms over 100 answers)" in result.summary
        assert "50% of all requests" in result.summary
        assert "popcert was saturated: the host running popcert was saturated" in result.summary
    # The lower rate is always explainable by a starved generator or SUT.
    assert inconclusive(evaluate_throughput(slow, LIMITS))


def test_a_sut_that_fell_behind_on_a_saturated_host_is_inconclusive(tmp_path: Path) -> None:
    """A starved SUT on the same host queues: its floor rises too, so no failure stands."""
    behind = outcome(tmp_path, saturated=True, post_ms=(640.0, 615.0), due=400)
    assert inconclusive(evaluate_p95(behind, LIMITS))


def test_a_floor_on_too_little_traffic_does_not_explain_the_p95(tmp_path: Path) -> None:
    """Slow answers on an endpoint carrying less than the percentile's tail prove nothing."""
    base = outcome(tmp_path, saturated=True, post_ms=(640.0, 615.0))
    recorder = LatencyRecorder()
    for i in range(400):
        recorder.record(GET, 0.02, True, 1000.0 + i / 40, 0.02)
    for i in range(20):
        recorder.record(POST, 0.64, True, 1000.0 + i, 0.615)
    recorder.add_due(420)
    recorder.write(latency_path(base.job.csv_prefix))
    few = replace(base, latency=read_latency(latency_path(base.job.csv_prefix)))
    assert evaluate_p99(few, LIMITS).status == Status.FAIL  # 4.8% of the traffic > the 1% tail
    assert inconclusive(evaluate_p95(few, LIMITS))  # but not more than the 5% tail


def test_an_outcome_without_health_figures_is_judged_as_before(tmp_path: Path) -> None:
    result = evaluate_p95(outcome(tmp_path, saturated=None, post_ms=(472.0, 30.0)), LIMITS)
    assert result.status == Status.FAIL
    assert all(e.title != "popcert's health during the load run" for e in result.evidence)


def _failures(tmp: Path, rows: list[tuple[str, int]]) -> Path:
    path = tmp / "locust_failures.csv"
    path.write_text("Method,Name,Error,Occurrences\n" + "".join(
        f'POST,{POST},"{error}",{n}\n' for error, n in rows), encoding="utf-8")
    return path


def test_errors_a_slow_client_cannot_cause_still_fail(tmp_path: Path) -> None:
    explained = _failures(tmp_path, [("CatchResponseError('HTTP 503')", 30),
                                     ("CatchResponseError('HTTP 429')", 20),
                                     (("TimeoutError('no complete answer within the 30 s "
                                       "request deadline')"), 5)])
    assert errors_unexplained(explained, 1000, 0.01) is None
    own = _failures(tmp_path, [("CatchResponseError('HTTP 500')", 30),
                               ("CatchResponseError('HTTP 503')", 30)])
    why = errors_unexplained(own, 1000, 0.01)
    assert why is not None and "30 of 1000 requests (3.00%)" in why and "HTTP 500" in why
    redirects = _failures(tmp_path, [(("CatchResponseError(\"HTTP 302 redirect to "
                                       "'http://127.0.0.1:1/' not followed\")"), 50)])
    assert errors_unexplained(redirects, 100, 0.01) is not None


def test_error_rate_on_a_saturated_run(tmp_path: Path) -> None:
    base = write_run(tmp_path, requests=1000, failures=60)
    saturated = replace(base, health=figures(saturated=True))
    _failures(tmp_path, [("CatchResponseError('HTTP 503')", 60)])
    assert inconclusive(evaluate_error_rate(saturated, LIMITS))
    _failures(tmp_path, [("CatchResponseError('HTTP 500')", 60)])
    result = evaluate_error_rate(saturated, LIMITS)
    assert result.status == Status.FAIL and "a failure saturation cannot explain" in result.summary


# --- CONF-LATENCY-BUDGET -------------------------------------------------------------------------
def _timing(samples: list[float], budget: float = 500.0) -> OperationTiming:
    operation = TimedOperation("submitDossier", "post", "/dossiers", True)
    return OperationTiming(operation, budget, samples_ms=samples)


def _budget_result(report: LatencyReport) -> CheckResult:
    over = [t for t in report.timings if t.over_budget]
    return CheckResult.failed("over budget") if over else CheckResult.passed("within budget")


@pytest.mark.parametrize("samples, saturated, expected", [
    ([640, 655, 610, 700, 630, 620], True, Status.FAIL),  # every sample over: the SUT's own
    ([640, 655, 610, 700, 30, 620], True, Status.ERROR),  # one fast answer: saturation may explain
    ([40, 55, 31, 35, 30, 33], True, Status.ERROR),  # within budget, measured saturated
    ([640, 655, 610, 700, 30, 620], False, Status.FAIL),
    ([40, 55, 31, 35, 30, 33], False, Status.PASS),
], ids=["slow-saturated", "mostly-slow-saturated", "fast-saturated", "slow-quiet", "fast-quiet"])
def test_latency_budget_on_a_saturated_host(samples: list[float], saturated: bool,
                                            expected: Status) -> None:
    report = LatencyReport([_timing(samples)])
    report.health = replace(figures(saturated=saturated), what="conformance latency timing")
    result = judged_budget(report, _budget_result(report))
    assert result.status == expected, result.summary
    assert result.evidence[0].title == "popcert's health during the conformance latency timing"
    if expected == Status.ERROR:
        assert result.summary.startswith("inconclusive: the host running popcert was saturated")
        assert result.summary.endswith("re-run on a quieter host (measured: "
                                       + _budget_result(report).summary + ")")
    if expected == Status.FAIL and saturated:
        assert "every one of the 6 samples of submitDossier took longer than its 500 ms " \
               "budget (fastest 610 ms)" in result.summary
