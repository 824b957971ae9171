"""Load suite decisions from fixture CSVs in locust's exact format (no locust run)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.checks import Status, SuiteUnavailable
from harness.suites.load.latency import LatencyRecorder, latency_path, read_latency
from harness.suites.load.plan import dossier_pool, user_pacing
from harness.suites.load.runner import (
    LoadOutcome,
    LocustJob,
    master_command,
    per_process_request_bound,
)
from harness.suites.load.stats import read_run, sustained_rate, throughput_series
from harness.suites.load.thresholds import (
    evaluate_error_rate,
    evaluate_p95,
    evaluate_p99,
    evaluate_throughput,
    lowered_by_run_config,
    measured,
    resolve_thresholds,
)
from harness.sut.dossiers import synthetic_people

STATS_HEADER = ("Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,"
                "Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,"
                "50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%")
HISTORY_HEADER = ("Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,"
                  "99%,99.9%,99.99%,100%,Total Request Count,Total Failure Count,"
                  "Total Median Response Time,Total Average Response Time,Total Min Response Time,"
                  "Total Max Response Time,Total Average Content Size")
LIMITS = resolve_thresholds({"users": 10, "spawn_rate": 10, "duration_s": 10, "target_rps": 20,
                             "p95_ms": 300, "p99_ms": 350, "max_error_rate": 0.01,
                             "max_requests": 10_000})


def _stats_row(name: str, requests: int, failures: int, p95: int, p99: int, method: str = "") -> str:
    return (f"{method},{name},{requests},{failures},20,25.5,1,{p99 + 5},60,20.0,0.0,"
            f"20,22,25,27,40,{p95},{p99 - 5},{p99},{p99},{p99},{p99 + 5}")


def _history(rates: list[tuple[int, int, int]], users: int = 10) -> str:
    """rows of (users, cumulative requests, cumulative failures), one per second."""
    lines = [HISTORY_HEADER, ("1000,0,,Aggregated,0,0,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,"
                              "0,0,0,0.0,0,0,0")]
    for second, (u, total, fails) in enumerate(rates, start=1):
        lines.append(f"{1000 + second},{u},GET,GET /x,1,0,1,1,1,1,1,1,1,1,1,1,1,{total // 2},0,1,1,1,1,1")
        lines.append(f"{1000 + second},{u},,Aggregated,20.0,0.0,20,22,25,27,40,90,95,100,100,100,"
                     f"100,{total},{fails},20,25.0,1,100,60")
    return "\n".join(lines) + "\n"


def write_run(tmp: Path, *, requests: int = 250, failures: int = 0, p95: int = 90, p99: int = 120,
              per_second: int = 25, fail_per_second: int = 0, due: int = 200) -> LoadOutcome:
    prefix = tmp / "locust"
    (tmp / "locust_stats.csv").write_text("\n".join([
        STATS_HEADER,
        _stats_row("POST /connection/v1/dossiers", requests // 3, failures, p95, p99, "POST"),
        _stats_row("GET /connection/v1/dossiers/{dossier_id}", requests - requests // 3, 0, 20, 30, "GET"),
        _stats_row("Aggregated", requests, failures, p95, p99)]) + "\n", encoding="utf-8")
    rows = [(5 if s == 1 else 10, per_second * s, fail_per_second * s) for s in range(1, 11)]
    (tmp / "locust_stats_history.csv").write_text(_history(rows), encoding="utf-8")
    job = LocustJob(host="http://127.0.0.1:1", plan_path=tmp / "plan.json", out_dir=tmp, users=10,
                    spawn_rate=10, duration_s=10, max_requests=10_000)
    assert job.csv_prefix == prefix
    # Latency from intended send times: the POSTs carry the tail, like the slow-path defect.
    recorder = LatencyRecorder()
    for i in range(100):
        recorder.record("POST /connection/v1/dossiers",
                        (p99 if i >= 97 else p95 if i >= 85 else 20) / 1000, True, 1000.0 + i)
        recorder.record("GET /connection/v1/dossiers/{dossier_id}", 0.02, True, 1000.0 + i)
    recorder.add_due(due)
    recorder.write(latency_path(prefix))
    return LoadOutcome(job, read_run(prefix), "python -m locust ...", 0,
                       latency=read_latency(latency_path(prefix)))


def test_parses_aggregated_row_and_endpoints(tmp_path: Path) -> None:
    outcome = write_run(tmp_path, requests=300, failures=6, p95=250, p99=330)
    assert outcome.stats is not None
    aggregated = outcome.stats.aggregated
    assert (aggregated.requests, aggregated.failures, aggregated.p95_ms, aggregated.p99_ms) == \
        (300, 6, 250, 330)
    assert {e.name for e in outcome.stats.endpoints} == {
        "POST /connection/v1/dossiers", "GET /connection/v1/dossiers/{dossier_id}"}
    # Only Aggregated history rows, one per second, in order.
    assert [p.timestamp for p in outcome.stats.history] == list(range(1000, 1011))


def test_sustained_rate_skips_ramp_up_and_counts_only_successes(tmp_path: Path) -> None:
    outcome = write_run(tmp_path, per_second=30, fail_per_second=3)
    assert outcome.stats is not None
    rate = sustained_rate(outcome.stats.history, users=10)
    # All users at t=1002 (second row), window from 1003 to 1010: 27 successes per second.
    assert rate.start == 1003 and rate.end == 1010
    assert rate.rps == pytest.approx(27.0)
    series = throughput_series(outcome.stats.history)
    assert series["failed_rps"][-1][1] == 3.0


def test_throughput_passes_at_target_and_fails_below(tmp_path: Path) -> None:
    assert evaluate_throughput(write_run(tmp_path, per_second=25), LIMITS).status == Status.PASS
    slow = evaluate_throughput(write_run(tmp_path, per_second=15), LIMITS)
    assert slow.status == Status.FAIL and slow.measurements["sustained_rps"] == pytest.approx(15)
    assert any(e.kind == "chart" for e in slow.evidence)


def test_latency_checks_compare_percentiles_to_profile(tmp_path: Path) -> None:
    fast = write_run(tmp_path, p95=120, p99=200)
    assert evaluate_p95(fast, LIMITS).status == Status.PASS
    assert evaluate_p99(fast, LIMITS).status == Status.PASS
    slow_path = write_run(tmp_path, p95=410, p99=440)
    p95 = evaluate_p95(slow_path, LIMITS)
    assert p95.status == Status.FAIL and "POST /connection/v1/dossiers" in p95.summary
    assert evaluate_p99(slow_path, LIMITS).status == Status.FAIL


def test_error_rate_boundary(tmp_path: Path) -> None:
    assert evaluate_error_rate(write_run(tmp_path, requests=1000, failures=10), LIMITS).status \
        == Status.PASS  # exactly 1% is allowed
    failed = evaluate_error_rate(write_run(tmp_path, requests=1000, failures=50), LIMITS)
    assert failed.status == Status.FAIL and failed.measurements["error_rate"] == 0.05


def test_no_statistics_is_an_error_not_a_pass(tmp_path: Path) -> None:
    """A run without statistics stops the suite (the context factory calls ``measured`` before
    it yields): every LOAD check is `error` with locust's output, none can pass."""
    job = LocustJob(host="http://127.0.0.1:1", plan_path=tmp_path / "p", out_dir=tmp_path,
                    users=1, spawn_rate=1, duration_s=1, max_requests=10)
    outcome = LoadOutcome(job, None, "cmd", None, timed_out=True, error="killed",
                          log_tail="Traceback ... locust died")
    with pytest.raises(SuiteUnavailable) as unavailable:
        measured(outcome)
    assert unavailable.value.summary == "the load run produced no statistics: killed"
    # the rerun command, locust's own command line, locust's output
    assert [e.kind for e in unavailable.value.evidence] == ["reproduction", "note", "note"]
    for evaluate in (evaluate_throughput, evaluate_p95, evaluate_p99, evaluate_error_rate):
        with pytest.raises(SuiteUnavailable, match="no statistics: killed"):
            evaluate(outcome, LIMITS)


def test_quick_and_config_overrides() -> None:
    raw = {"users": 20, "duration_s": 20, "quick_duration_s": 8, "target_rps": 20}
    assert resolve_thresholds(raw, quick=True).duration_s == 8
    assert resolve_thresholds(raw, quick=False).duration_s == 20
    assert resolve_thresholds(raw, users=5, target_rps=7).users == 5


def test_run_config_may_raise_the_bar_never_lower_it() -> None:
    raw = {"users": 20, "duration_s": 20, "quick_duration_s": 8, "target_rps": 20}
    assert lowered_by_run_config(raw, "district") == []
    assert lowered_by_run_config(raw, "district", users=20, duration_s=60, target_rps=50) == []
    lowered = lowered_by_run_config(raw, "district", target_rps=0.5, users=25)
    assert lowered == [("run.yaml: load.target_rps: 0.5 is below the district profile's "
                        "thresholds.load.target_rps of 20; run.yaml may make the load test "
                        "harder, never easier — remove load.target_rps or set it to at least 20")]
    assert [m.split(":")[1] for m in lowered_by_run_config(
        raw, "district", users=19, duration_s=19.5, target_rps=19.9)] == [
        " load.users", " load.duration_s", " load.target_rps"]
    # --quick keeps the profile's own quick_duration_s as the bar, not the full duration.
    assert lowered_by_run_config(raw, "district", quick=True, duration_s=10) == []
    assert "of 8;" in lowered_by_run_config(raw, "district", quick=True, duration_s=5)[0]
    # Unset in the profile: the defaults the run would use are the bar.
    assert "of 20;" in lowered_by_run_config({}, "custom", target_rps=10)[0]


def test_offered_rate_has_headroom_over_target() -> None:
    # 20 users at 1.5 req/s each: 30 req/s offered for a 20 req/s target, and 0.67 s per request
    # leaves room for the slow path's +400 ms without lowering the offered rate.
    assert user_pacing(20, 20) == pytest.approx(1.5)
    assert per_process_request_bound(20_000, 3) == 6667
    assert per_process_request_bound(20_000, 0) == 20_000


def test_master_command_is_headless_bounded_and_distributed() -> None:
    job = LocustJob(host="https://127.0.0.1:8443", plan_path=Path("p"), out_dir=Path("o"),
                    users=20, spawn_rate=20, duration_s=20, max_requests=100, workers=2)
    command = master_command(job, 5599)
    for flag in ("--headless", "--csv-full-history", "--only-summary", "--master"):
        assert flag in command
    assert command[command.index("--run-time") + 1] == "20s"
    assert command[command.index("--expect-workers") + 1] == "2"


def test_dossier_pool_follows_the_procedure_mix() -> None:
    pool = dossier_pool(synthetic_people(20, seed=1), 400, seed=2)
    codes = [d["procedure_code"] for d in pool]
    assert set(codes) == {"1.001193", "1.000894", "1.000656", "1.004194"}
    assert codes.count("1.001193") > codes.count("1.000656")
    for body in pool:
        pid = body["applicant"]["personal_id"]
        assert len(pid) == 12 and pid.isdigit()
        # gender/century digit agrees with the year of birth (Circular 59/2021)
        year = int(body["applicant"]["date_of_birth"][:4])
        assert int(pid[3]) // 2 == (year - 1900) // 100 and pid[4:6] == f"{year % 100:02d}"


def test_capacity_step_holds_only_within_every_threshold(tmp_path: Path) -> None:
    from harness.suites.load.capacity import judge_step, step_users

    holding = judge_step(write_run(tmp_path, due=200), offered_rps=25, limits=LIMITS)
    assert holding.holds and holding.delivered_rps == pytest.approx(25)
    # 200 of 240 due requests completed: the SUT delivered 5/6 of the offered rate.
    saturated = judge_step(write_run(tmp_path, due=240), offered_rps=30, limits=LIMITS)
    assert not saturated.holds and saturated.broke == ("throughput",)
    assert saturated.delivered_rps == pytest.approx(25)
    slow = judge_step(write_run(tmp_path, p95=500, p99=600), 25, LIMITS)
    assert slow.broke == ("p95", "p99")
    assert step_users(100, 10) == 10 and step_users(500, 10) == 50


def test_capacity_search_bisects_after_the_first_break() -> None:
    from harness.suites.load.capacity import CapacityResult, CapacityStep, next_rate

    def step(offered: float, capacity: float = 50.0) -> CapacityStep:
        holds = capacity / offered >= 0.97
        return CapacityStep(offered, 10, min(offered, capacity), 10, 20, 0.0, holds,
                            () if holds else ("throughput",), delivered_ratio=capacity / offered)

    steps = [step(20.0)]
    while (rate := next_rate(steps, factor=2.0)) is not None and len(steps) < 20:
        steps.append(step(rate))
    offered = [s.offered_rps for s in steps]
    assert offered[:3] == [20.0, 40.0, 80.0]  # geometric up to the first break
    result = CapacityResult(max(s.delivered_rps for s in steps if s.holds), tuple(steps))
    low, high = result.bracket
    assert high is not None and high / low <= 1.03 and len(steps) <= 10
    assert result.sustainable_rps == pytest.approx(50, rel=0.05)
    assert "±" in result.confidence


def test_latency_checks_error_without_corrected_latency(tmp_path: Path) -> None:
    # locust's own percentiles under-report a stalling SUT: without ours there is no verdict.
    outcome = write_run(tmp_path, p95=120, p99=200)
    blind = LoadOutcome(outcome.job, outcome.stats, outcome.command, 0, latency=None)
    assert evaluate_p95(blind, LIMITS).status == Status.ERROR
    assert evaluate_p99(blind, LIMITS).status == Status.ERROR
