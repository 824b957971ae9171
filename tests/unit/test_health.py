"""popcert's own health (harness/health.py): the saturation criterion from synthetic figures, the
inconclusive verdict, and the measuring parts on this host (no timing asserted)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from harness import health_monitor
from harness.health import (
    Calibration,
    HealthFigures,
    ProcessCpu,
    assess,
    health_evidence,
    is_inconclusive,
)
from harness.health_monitor import HealthMonitor, calibrate, read_host
from harness.profiles import CERTIFIED, NOT_CERTIFIED, decide, load_profile

QUIET_CALIBRATION = Calibration(20, 3.1, 3.4, 4.0, 1.02, 1.1)


def quiet(**changes: object) -> HealthFigures:
    """A healthy load run on a 2-core host; ``changes`` turn one figure bad."""
    figures = HealthFigures(
        "load run", 2, 8.0, runnable_per_core=0.8, runnable_per_core_max=1.5, load1_max=1.2,
        steal_share=0.0, busy_share=0.4, calibration_before=QUIET_CALIBRATION,
        calibration_after=QUIET_CALIBRATION,
        generator=(ProcessCpu("locust-master", 41, (12.0, 15.0, 14.0, 13.0)),),
        send_lag_p99_ms=2.0)
    return HealthFigures(**{**figures.__dict__, **changes})  # type: ignore[arg-type]


def test_a_quiet_run_is_not_saturated() -> None:
    saturation = assess(quiet())
    assert not saturation.saturated
    assert saturation.describe() == "neither the host nor the load generator was saturated"


def test_missing_figures_decide_nothing() -> None:
    """A figure that could not be measured (no /proc, no latency file) is no reason either way."""
    bare = HealthFigures("load run", 2)
    assert not assess(bare).saturated


@pytest.mark.parametrize("changes, reason", [
    ({"generator": (ProcessCpu("locust-master", 41, (97.0, 96.0, 40.0, 98.0)),)},
     "CPU 98%, ≥ 90% in 75% of the samples"),
    ({"send_lag_p99_ms": 840.0}, "send lag p99 840 ms ≥ 50 ms"),
], ids=["locust-cpu", "send-lag"])
def test_a_saturated_generator_is_named_with_its_figure(changes: dict, reason: str) -> None:
    saturation = assess(quiet(**changes))
    assert saturation.saturated and saturation.generator_reasons == (reason,)
    assert saturation.describe() == f"the load generator was saturated ({reason})"


@pytest.mark.parametrize("changes, reason", [
    ({"runnable_per_core": 3.5, "load1_max": 7.1},
     "3.5 runnable tasks per core ≥ 3 (load average 7.1 on 2 cores)"),
    ({"steal_share": 0.25}, "CPU steal 25% ≥ 10%"),
    ({"calibration_after": Calibration(20, 40.0, 56.0, 93.0, 11.8, 16.3)},
     "calibration round trip 16.3× its CPU time (p90) ≥ 4×"),
], ids=["runnable", "steal", "calibration"])
def test_a_saturated_host_is_named_with_its_figure(changes: dict, reason: str) -> None:
    saturation = assess(quiet(**changes))
    assert saturation.saturated and saturation.host_reasons == (reason,)
    assert not saturation.generator_reasons


def test_a_short_cpu_spike_is_not_sustained() -> None:
    """Locust warns at any moment above 90%; the criterion wants a quarter of the samples."""
    spike = ProcessCpu("locust-master", 41, (99.0, 20.0, 25.0, 22.0, 18.0))
    assert spike.busy_share == pytest.approx(0.2)
    assert not assess(quiet(generator=(spike,))).saturated
    sustained = ProcessCpu("locust-master", 41, (99.0, 95.0, 25.0, 22.0))
    assert assess(quiet(generator=(sustained,))).saturated


def test_the_inconclusive_text_names_the_figures_and_the_fix() -> None:
    saturation = assess(quiet(generator=(ProcessCpu("locust-master", 41, (97.0,) * 4),),
                              send_lag_p99_ms=840.0))
    text = saturation.inconclusive()
    assert text == ("inconclusive: the load generator was saturated (CPU 97%, ≥ 90% in 100% of "
                    "the samples, send lag p99 840 ms ≥ 50 ms); re-run on a quieter host or "
                    "add workers")
    assert is_inconclusive("error", text)
    assert not is_inconclusive("fail", text) and not is_inconclusive("error", "no answer")


def test_health_evidence_carries_every_figure() -> None:
    evidence = health_evidence(assess(quiet(runnable_per_core=3.5)))
    assert evidence.title == "popcert's health during the load run"
    data = evidence.data["health"]
    assert data["saturated"] is True
    assert data["figures"]["runnable_per_core"] == 3.5
    assert data["figures"]["calibration_before"]["inflation_p90"] == 1.1
    assert data["figures"]["generator"][0]["name"] == "locust-master"
    assert "send lag p99: 2 ms" in evidence.data["text"]


# --- the verdict: NOT CERTIFIED, marked inconclusive rather than failed -----------------------
def _decide(statuses: dict[str, str], summaries: dict[str, str]) -> object:
    profile = load_profile("district")
    registered = sorted(statuses)
    mandatory = {c: s for c, s in statuses.items()}
    return decide(profile.model_copy(update={"mandatory": list(mandatory), "attestations": []}),
                  statuses, registered, True, [], set(), date(2026, 1, 1), summaries=summaries)


INCONCLUSIVE = "inconclusive: the host running popcert was saturated (...); re-run on a quieter host"


def test_inconclusive_timing_checks_make_an_inconclusive_not_certified() -> None:
    verdict = _decide({"LOAD-LATENCY-P95": "error", "LOAD-THROUGHPUT": "error",
                       "AUTH-JWT-ALG-NONE": "pass"},
                      {"LOAD-LATENCY-P95": INCONCLUSIVE, "LOAD-THROUGHPUT": INCONCLUSIVE})
    assert verdict.status == NOT_CERTIFIED and verdict.exit_code == 1
    assert verdict.inconclusive == ("LOAD-LATENCY-P95", "LOAD-THROUGHPUT")
    assert verdict.reasons[0].startswith("inconclusive, not failed: LOAD-LATENCY-P95, "
                                         "LOAD-THROUGHPUT could not be judged")
    assert verdict.to_json()["inconclusive"] == ["LOAD-LATENCY-P95", "LOAD-THROUGHPUT"]


def test_a_failed_check_is_a_failure_whatever_else_was_inconclusive() -> None:
    verdict = _decide({"LOAD-LATENCY-P95": "error", "AUTH-JWT-ALG-NONE": "fail"},
                      {"LOAD-LATENCY-P95": INCONCLUSIVE, "AUTH-JWT-ALG-NONE": "alg none accepted"})
    assert verdict.status == NOT_CERTIFIED and verdict.inconclusive == ()
    assert "inconclusive" not in verdict.to_json()


def test_an_ordinary_error_is_not_inconclusive() -> None:
    verdict = _decide({"LOAD-LATENCY-P95": "error"},
                      {"LOAD-LATENCY-P95": "the load run produced no statistics"})
    assert verdict.status == NOT_CERTIFIED and verdict.inconclusive == ()


def test_a_certified_run_is_untouched() -> None:
    verdict = _decide({"LOAD-LATENCY-P95": "pass"}, {"LOAD-LATENCY-P95": "p95 80 ms ≤ 300 ms"})
    assert verdict.status == CERTIFIED and verdict.to_json() == {
        "status": "CERTIFIED", "reasons": [], "blocking": []}


# --- measuring on this host: figures exist, no timing asserted --------------------------------
def test_calibration_round_trips_to_its_own_endpoint() -> None:
    calibration = calibrate(rounds=5, gap_s=0.0)
    assert calibration.error is None and calibration.rounds == 5
    assert 0 < calibration.p50_ms <= calibration.p90_ms <= calibration.max_ms
    assert calibration.inflation_p90 >= calibration.inflation_p50 > 0


def test_host_counters_are_read_from_proc(tmp_path: Path) -> None:
    (tmp_path / "stat").write_text("cpu  100 0 50 800 10 0 5 35 0 0\ncpu0 1 2 3 4 5 6 7 8\n"
                                   "procs_running 7\n")
    (tmp_path / "loadavg").write_text("6.93 5.10 3.02 7/180 2431\n")
    sample = read_host(tmp_path)
    assert sample is not None
    assert (sample.total_ticks, sample.idle_ticks, sample.steal_ticks) == (1000, 810, 35)
    assert (sample.procs_running, sample.load1) == (7, 6.93)
    assert read_host(tmp_path / "missing") is None


def test_monitor_samples_the_host_and_its_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    monkeypatch.setattr(health_monitor, "CALIBRATION_ROUNDS", 3)
    with HealthMonitor("test window", lambda: [("self", os.getpid())], interval_s=0.05) as monitor:
        sum(range(300_000))
        import time
        time.sleep(0.2)
    figures = monitor.figures
    assert figures is not None and figures.cores >= 1
    assert figures.runnable_per_core is not None and figures.steal_share is not None
    assert figures.calibration_before is not None and figures.calibration_after is not None
    assert figures.generator and figures.generator[0].name == "self"


def test_the_report_shows_the_inconclusive_verdict() -> None:
    """report.json keeps the marking (valid against the schema) and the HTML verdict says it."""
    from harness.report.document import schema_errors
    from harness.report.html import render_html
    from tests.unit.report.sample_report import certified_report, doc

    report = certified_report()
    verdict = _decide({"LOAD-LATENCY-P95": "error"}, {"LOAD-LATENCY-P95": INCONCLUSIVE})
    report["verdict"] = verdict.to_json()  # type: ignore[attr-defined]
    assert schema_errors(report) == []
    html = render_html(doc(report))
    assert 'id="verdict-inconclusive"' in html
    assert "INCONCLUSIVE, not failed: popcert itself was saturated while measuring " \
           "LOAD-LATENCY-P95" in html
    assert 'id="verdict-inconclusive"' not in render_html(doc(certified_report()))


def test_the_terminal_marks_an_inconclusive_verdict(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    import io

    from rich.console import Console

    from harness.engine import RunOutcome
    from harness.runner import print_verdict

    verdict = _decide({"LOAD-LATENCY-P95": "error"}, {"LOAD-LATENCY-P95": INCONCLUSIVE})
    console = io.StringIO()
    print_verdict(RunOutcome(tmp_path, {}, verdict, {}), Console(file=console))  # type: ignore[arg-type]
    lines = capsys.readouterr().out.splitlines()
    assert lines[-3].startswith("inconclusive: LOAD-LATENCY-P95 measured while popcert was "
                                "saturated; no mandatory check failed")
    assert lines[-1] == "verdict: NOT CERTIFIED"  # what scripts read is unchanged
    assert "NOT CERTIFIED (inconclusive)" in console.getvalue()
