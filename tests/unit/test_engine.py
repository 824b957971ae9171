"""The run engine: every check ends with a status, results stream to results.jsonl, the run goes on.

A throwaway "sast" suite, declared by each test, makes a registry of its own that the engine runs
like any other; the real registry is never touched.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

import harness.checks
import harness.engine
from harness.checks import CheckFunction, CheckResult, Evidence, Severity, SuiteUnavailable, check
from harness.config import config_from_dict
from harness.engine import Engine, RunOutcome
from harness.registry import ContextFactory, Registry, Suite, default_registry
from harness.report.document import read_report
from harness.run_context import RunContext
from harness.suite_names import SUITE_NAMES

SUITE = "sast"
TODAY = date(2026, 2, 1)
ATTESTATIONS = """attestations:
  - {item_id: connection-plan, assessor: "Lê Thị Hoa", date: 2026-01-05,
     statement: "connection plan reviewed and approved"}
  - {item_id: server-hardening, assessor: "Lê Thị Hoa", date: 2026-01-05,
     statement: "server hardening checklist verified on site"}
"""


class Throwaway:
    """The checks and contexts one test declares, as a Registry of their own."""

    def __init__(self) -> None:
        self.checks: dict[str, list[CheckFunction]] = {}
        self.contexts: dict[str, ContextFactory] = {}

    def check(self, check_id: str, *, suite: str, **options: Any
              ) -> Callable[[CheckFunction], CheckFunction]:
        """``@check`` plus listing the function in ``suite``'s declaration."""
        def add(function: CheckFunction) -> CheckFunction:
            marked = check(check_id, **options)(function)
            self.checks.setdefault(suite, []).append(marked)
            return marked

        return add

    def context(self, suite: str) -> Callable[[ContextFactory], ContextFactory]:
        def add(factory: ContextFactory) -> ContextFactory:
            self.contexts[suite] = factory
            return factory

        return add

    def registry(self) -> Registry:
        return Registry(Suite(name, self.contexts[name], tuple(self.checks.get(name, ())))
                        for name in SUITE_NAMES if name in self.contexts)


_current: list[Throwaway] = []


@pytest.fixture
def registry() -> Iterator[Throwaway]:
    throwaway = Throwaway()
    _current.append(throwaway)
    yield throwaway
    _current.remove(throwaway)


def run(tmp_path: Path, *, limits: dict[str, Any] | None = None, waivers: str | None = None,
        suites: list[str] | None = None) -> RunOutcome:
    (tmp_path / "attestations.yaml").write_text(ATTESTATIONS, encoding="utf-8")
    assessor: dict[str, str] = {"attestations": "attestations.yaml"}
    if waivers is not None:
        (tmp_path / "waivers.yaml").write_text(waivers, encoding="utf-8")
        assessor["waivers"] = "waivers.yaml"
    config = config_from_dict({
        "system": {"name": "Engine test system", "organisation": "tests", "level": "district"},
        "target": {"base_url": "http://127.0.0.1:9"}, "suites": suites or [SUITE],
        "output_dir": str(tmp_path / "runs"), "assessor": assessor,
        "limits": limits or {}}, tmp_path)
    return Engine(config, npdb=None, today=TODAY, registry=_current[-1].registry()).run()


def context_yielding(registry: Throwaway, value_of: Callable[[RunContext], Any],
                     torn_down: list[str] | None = None) -> None:
    @registry.context(SUITE)
    def make_context(run_ctx: RunContext) -> Iterator[Any]:
        yield value_of(run_ctx)
        if torn_down is not None:
            torn_down.append("done")


def lines(outcome: RunOutcome) -> list[dict[str, Any]]:
    text = (outcome.run_dir / "results.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()]


def by_id(outcome: RunOutcome) -> dict[str, dict[str, Any]]:
    return {r["check"]["id"]: r for r in outcome.report["results"]}


# --- one suite with every kind of check -------------------------------------------------------

@pytest.fixture
def mixed_suite(registry: Throwaway) -> Iterator[list[str]]:
    release = threading.Event()
    torn_down: list[str] = []
    context_yielding(registry, lambda run_ctx: run_ctx.run_dir, torn_down)

    @registry.check("SAST-T-PASS", suite=SUITE, severity=Severity.HIGH, requirement="test: passes")
    def passes(run_dir: Path) -> CheckResult:
        """A check that passes."""
        return CheckResult.passed("fine", Evidence.measurement("x", 1))

    @registry.check("SAST-T-STREAMED", suite=SUITE, severity=Severity.LOW, requirement="test: streaming")
    def sees_previous_result(run_dir: Path) -> CheckResult:
        """The previous result is on disk before the next check starts."""
        written = (run_dir / "results.jsonl").read_text(encoding="utf-8").splitlines()
        if len(written) == 1 and json.loads(written[0])["check"]["id"] == "SAST-T-PASS":
            return CheckResult.passed("results.jsonl had the first result")
        return CheckResult.failed(f"results.jsonl had {len(written)} lines")

    @registry.check("SAST-T-FAIL", suite=SUITE, severity=Severity.CRITICAL, requirement="test: fails")
    def fails(run_dir: Path) -> CheckResult:
        """A check that fails."""
        return CheckResult.failed("broken", Evidence.note("why"))

    @registry.check("SAST-T-RAISES", suite=SUITE, severity=Severity.HIGH, requirement="test: raises")
    def raises(run_dir: Path) -> CheckResult:
        """A check with a bug."""
        raise RuntimeError("the check tripped over its own feet")

    @registry.check("SAST-T-SLOW", suite=SUITE, severity=Severity.HIGH, requirement="test: overruns",
           timeout_s=0.5)
    def overruns(run_dir: Path) -> CheckResult:
        """A check that hangs past its time limit."""
        release.wait(30)
        return CheckResult.passed("too late")

    @registry.check("SAST-T-NOT-A-RESULT", suite=SUITE, severity=Severity.LOW, requirement="test: bad return")
    def returns_junk(run_dir: Path) -> CheckResult:
        """A check returning the wrong type."""
        return "pass"  # type: ignore[return-value]

    @registry.check("SAST-T-AFTER", suite=SUITE, severity=Severity.LOW, requirement="test: runs after")
    def after(run_dir: Path) -> CheckResult:
        """The run goes on after errors."""
        return CheckResult.passed("still running")

    yield torn_down
    release.set()


def test_every_check_ends_with_a_status_and_the_run_goes_on(
        tmp_path: Path, mixed_suite: list[str]) -> None:
    outcome = run(tmp_path)
    results = by_id(outcome)
    assert {k: v["status"] for k, v in results.items()} == {
        "SAST-T-PASS": "pass", "SAST-T-STREAMED": "pass", "SAST-T-FAIL": "fail",
        "SAST-T-RAISES": "error", "SAST-T-SLOW": "error", "SAST-T-NOT-A-RESULT": "error",
        "SAST-T-AFTER": "pass"}
    assert mixed_suite == ["done"], "the context's teardown ran"


def test_a_raising_check_is_an_error_with_its_traceback(tmp_path: Path, mixed_suite: list[str]) -> None:
    result = by_id(run(tmp_path))["SAST-T-RAISES"]
    assert "RuntimeError" in result["summary"] and "own feet" in result["summary"]
    traceback = [e for e in result["evidence"] if e["kind"] == "traceback"]
    assert traceback and "raise RuntimeError" in traceback[0]["data"]["text"]


def test_an_overrunning_check_is_an_error_naming_its_limit(tmp_path: Path, mixed_suite: list[str]) -> None:
    result = by_id(run(tmp_path))["SAST-T-SLOW"]
    assert "time limit of 0.5 s" in result["summary"]


def test_results_jsonl_has_one_line_per_result_in_order(tmp_path: Path, mixed_suite: list[str]) -> None:
    outcome = run(tmp_path)
    written = lines(outcome)
    assert [r["check"]["id"] for r in written] == [r["check"]["id"] for r in outcome.report["results"]]
    assert len(written) == 7
    assert all({"status", "summary", "evidence", "mandatory", "duration_s"} <= set(r) for r in written)


def test_report_files_verdict_and_exit_code(tmp_path: Path, mixed_suite: list[str]) -> None:
    outcome = run(tmp_path)
    for name in ("report.json", "report.html", "junit.xml", "results.jsonl", "config.json"):
        assert (outcome.run_dir / name).is_file(), name
    report = json.loads((outcome.run_dir / "report.json").read_text(encoding="utf-8"))
    assert report["run"]["complete"] is True
    assert report["verdict"]["status"] == "NOT CERTIFIED" and outcome.exit_code == 1
    assert set(report["verdict"]["blocking"]) == {"SAST-T-FAIL", "SAST-T-RAISES", "SAST-T-SLOW",
                                                  "SAST-T-NOT-A-RESULT"}
    junit = (outcome.run_dir / "junit.xml").read_text(encoding="utf-8")
    assert "SAST-T-FAIL" in junit
    assert "NOT CERTIFIED" in (outcome.run_dir / "report.html").read_text(encoding="utf-8")


# --- verdicts end to end ----------------------------------------------------------------------

@pytest.fixture
def passing_and_failing(registry: Throwaway) -> None:
    context_yielding(registry, lambda run_ctx: None)

    @registry.check("SAST-T-OK", suite=SUITE, severity=Severity.HIGH, requirement="test")
    def ok(ctx: Any) -> CheckResult:
        """Passes."""
        return CheckResult.passed("fine")

    @registry.check("SAST-T-WAIVED", suite=SUITE, severity=Severity.HIGH, requirement="test")
    def waived(ctx: Any) -> CheckResult:
        """Fails, but an assessor may waive it."""
        return CheckResult.failed("known issue")


WAIVER = """waivers:
  - {check_id: SAST-T-WAIVED, reason: "false positive confirmed by code review",
     assessor: "Phạm Minh Tuấn", approved_on: 2026-01-01, expires: %s}
"""


def test_a_valid_waiver_certifies_and_shows_in_the_report(
        tmp_path: Path, passing_and_failing: None) -> None:
    outcome = run(tmp_path, waivers=WAIVER % "2026-12-31")
    assert outcome.verdict.status == "CERTIFIED" and outcome.exit_code == 0
    assert by_id(outcome)["SAST-T-WAIVED"]["waiver"]["valid"] is True


def test_report_json_reads_back_as_the_document_the_run_wrote(
        tmp_path: Path, passing_and_failing: None) -> None:
    outcome = run(tmp_path, waivers=WAIVER % "2026-12-31")
    written = outcome.run_dir / "report.json"
    document = read_report(written)
    assert document.canonical_bytes() == written.read_bytes()
    assert document.to_json() == outcome.report
    assert document.run.registered_checks == ("SAST-T-OK", "SAST-T-WAIVED")
    assert document.run.fingerprints is not None and document.system.config_file is None
    assert [r.check.id for r in document.results if r.waived] == ["SAST-T-WAIVED"]


def test_only_the_last_report_of_a_run_is_checked_against_the_schema(
        tmp_path: Path, passing_and_failing: None, monkeypatch: pytest.MonkeyPatch) -> None:
    # The reports written between suites are replaced by the next: checking each cost a full
    # schema validation per suite. The one the run ends with is always checked.
    checked: list[bool] = []
    write = harness.engine.write_report_files

    def spy(document: Any, run_dir: Path, *, check: bool = True) -> Any:
        checked.append(check)
        return write(document, run_dir, check=check)

    monkeypatch.setattr(harness.engine, "write_report_files", spy)
    run(tmp_path)
    assert checked == [False, False, True]


def test_an_expired_waiver_does_not_certify(tmp_path: Path, passing_and_failing: None) -> None:
    outcome = run(tmp_path, waivers=WAIVER % "2026-01-31")
    assert outcome.verdict.status == "NOT CERTIFIED" and outcome.exit_code == 1
    assert by_id(outcome)["SAST-T-WAIVED"]["waiver"]["valid"] is False


def test_unselected_suites_are_skipped_with_a_reason(
        tmp_path: Path, registry: Throwaway, passing_and_failing: None) -> None:
    registry.context("tls")(lambda run_ctx: iter([None]))

    @registry.check("TLS-T-UNSELECTED", suite="tls", severity=Severity.HIGH, requirement="test")
    def tls_check(ctx: Any) -> CheckResult:
        """Never runs: the tls suite is not selected."""
        raise AssertionError("must not run")

    result = by_id(run(tmp_path, waivers=WAIVER % "2026-12-31"))["TLS-T-UNSELECTED"]
    assert result["status"] == "skip" and "not selected" in result["summary"]


# --- failures around the checks ---------------------------------------------------------------

def test_a_context_that_raises_makes_every_check_of_the_suite_error(
        tmp_path: Path, registry: Throwaway) -> None:
    @registry.context(SUITE)
    def broken_context(run_ctx: RunContext) -> Iterator[Any]:
        raise ConnectionError("SUT unreachable during setup")
        yield  # pragma: no cover - makes this a generator

    for name in ("A", "B"):
        registry.check(f"SAST-T-{name}", suite=SUITE, severity=Severity.HIGH, requirement="test")(
            lambda ctx: CheckResult.passed("unreachable"))
    outcome = run(tmp_path)
    results = by_id(outcome)
    assert [r["status"] for r in results.values()] == ["error", "error"]
    for result in results.values():
        assert "could not start" in result["summary"] and "SUT unreachable" in result["summary"]
        assert any(e["kind"] == "traceback" for e in result["evidence"])
    assert outcome.report["run"]["complete"] is True


def test_a_context_that_hangs_is_cut_by_the_suite_limit(
        tmp_path: Path, registry: Throwaway) -> None:
    release = threading.Event()

    @registry.context(SUITE)
    def stuck_context(run_ctx: RunContext) -> Iterator[Any]:
        release.wait(30)  # e.g. a TLS scan of an endpoint that never answers
        yield None

    registry.check("SAST-T-WAITING", suite=SUITE, severity=Severity.HIGH, requirement="test")(
        lambda ctx: CheckResult.passed("unreachable"))
    try:
        outcome = run(tmp_path, limits={"suite_s": {SUITE: 0.5}})
    finally:
        release.set()
    result = by_id(outcome)["SAST-T-WAITING"]
    assert result["status"] == "error"
    assert "could not start" in result["summary"] and "time limit" in result["summary"]


def test_a_suite_that_is_unavailable_errors_every_check_with_its_reason(
        tmp_path: Path, registry: Throwaway) -> None:
    @registry.context(SUITE)
    def no_source(run_ctx: RunContext) -> Iterator[Any]:
        raise SuiteUnavailable("source.path /nowhere does not exist",
                               Evidence.note("set source.path in run.yaml"))
        yield  # pragma: no cover - makes this a generator

    for name in ("A", "B"):
        registry.check(f"SAST-T-{name}", suite=SUITE, severity=Severity.HIGH,
                       requirement="test")(lambda ctx: CheckResult.passed("unreachable"))
    results = by_id(run(tmp_path))
    assert [r["status"] for r in results.values()] == ["error", "error"]
    for result in results.values():
        assert result["summary"] == "source.path /nowhere does not exist"
        assert [e["kind"] for e in result["evidence"]] == ["note"]  # no traceback: not a bug


def test_the_suite_time_limit_stops_remaining_checks(tmp_path: Path, registry: Throwaway) -> None:
    release = threading.Event()
    context_yielding(registry, lambda run_ctx: release)
    for name in ("FIRST", "SECOND", "THIRD"):
        registry.check(f"SAST-T-{name}", suite=SUITE, severity=Severity.HIGH, requirement="test")(
            lambda ev: (ev.wait(0.7), CheckResult.passed("slow but fine"))[1])
    try:
        outcome = run(tmp_path, limits={"suite_s": {SUITE: 1.0}})
    finally:
        release.set()
    results = by_id(outcome)
    assert results["SAST-T-FIRST"]["status"] == "pass"
    assert results["SAST-T-SECOND"]["status"] == "error"  # cut to the suite's remaining time
    assert results["SAST-T-THIRD"]["status"] == "error"
    assert "suite sast exceeded its time limit of 1 s" in results["SAST-T-THIRD"]["summary"]


def test_ctrl_c_during_a_check_leaves_an_incomplete_report(
        tmp_path: Path, registry: Throwaway) -> None:
    context_yielding(registry, lambda run_ctx: None)
    registry.check("SAST-T-DONE", suite=SUITE, severity=Severity.HIGH, requirement="test")(
        lambda ctx: CheckResult.passed("finished before the interrupt"))

    def interrupted(ctx: Any) -> CheckResult:
        raise KeyboardInterrupt

    registry.check("SAST-T-INTERRUPTED", suite=SUITE, severity=Severity.HIGH, requirement="test")(interrupted)
    registry.check("SAST-T-NEVER", suite=SUITE, severity=Severity.HIGH, requirement="test")(
        lambda ctx: CheckResult.passed("never reached"))
    outcome = run(tmp_path)
    report = json.loads((outcome.run_dir / "report.json").read_text(encoding="utf-8"))
    assert report["run"]["complete"] is False and report["run"]["interrupted"]
    assert report["verdict"]["status"] == "INCOMPLETE" and outcome.exit_code == 1
    assert [r["check"]["id"] for r in lines(outcome)] == ["SAST-T-DONE"]
    assert "INCOMPLETE" in (outcome.run_dir / "report.html").read_text(encoding="utf-8")


def test_ctrl_c_stops_what_the_run_started_and_spares_what_it_did_not(
        tmp_path: Path, registry: Throwaway) -> None:
    import sys

    from harness import processes

    sleeper = [sys.executable, "-c", ("import signal, time; "
                                      "signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)")]
    before_the_run = processes.spawn(sleeper, name="started-before-the-run")
    started: list[processes.Child] = []
    context_yielding(registry, lambda run_ctx: None)

    def fuzzing_when_interrupted(ctx: Any) -> CheckResult:
        started.append(processes.spawn(sleeper, name="fuzzer"))
        raise KeyboardInterrupt

    registry.check("SAST-T-FUZZ", suite=SUITE, severity=Severity.HIGH, requirement="test")(
        fuzzing_when_interrupted)
    try:
        outcome = run(tmp_path)
        assert outcome.verdict.status == "INCOMPLETE"
        [fuzzer] = started
        assert fuzzer.returncode is not None  # stopped (SIGKILL: it ignores SIGTERM)
        assert before_the_run.poll() is None
    finally:
        before_the_run.stop(grace_s=0)
        for child in started:
            child.stop(grace_s=0)


def test_run_dirs_never_collide(tmp_path: Path, passing_and_failing: None) -> None:
    first = run(tmp_path).run_dir
    time.sleep(0.002)
    assert run(tmp_path).run_dir != first


def test_no_test_check_leaks_into_the_real_registry() -> None:
    assert not any(c.id.startswith(("SAST-T-", "TLS-T-")) for c in default_registry())


def test_a_quick_run_ends_within_its_total_budget(
        tmp_path: Path, registry: Throwaway, monkeypatch: pytest.MonkeyPatch) -> None:
    # Issue 12: a --quick run against a hostile SUT ends in minutes, however many suites stall.
    monkeypatch.setattr(harness.engine, "QUICK_RUN_BUDGET_S", 4.0)
    release = threading.Event()

    @registry.context(SUITE)
    def stuck_context(run_ctx: RunContext) -> Iterator[Any]:
        release.wait(30)  # e.g. scenarios whose every step waits out its deadline
        yield None

    context_yielding_for = registry.context("tls")
    context_yielding_for(lambda run_ctx: iter([None]))
    registry.check("SAST-T-STALLED", suite=SUITE, severity=Severity.HIGH, requirement="test")(
        lambda ctx: CheckResult.passed("unreachable"))
    registry.check("TLS-T-LATER", suite="tls", severity=Severity.HIGH, requirement="test")(
        lambda ctx: CheckResult.passed("unreachable"))
    config = config_from_dict({
        "system": {"name": "Engine test system", "organisation": "tests", "level": "district"},
        "target": {"base_url": "http://127.0.0.1:9"}, "suites": [SUITE, "tls"], "quick": True,
        "output_dir": str(tmp_path / "runs")}, tmp_path)
    try:
        outcome = Engine(config, npdb=None, today=TODAY, registry=registry.registry()).run()
    finally:
        release.set()
    results = by_id(outcome)
    assert results["SAST-T-STALLED"]["status"] == "error"
    assert "could not start" in results["SAST-T-STALLED"]["summary"]
    assert "time limit" in results["SAST-T-STALLED"]["summary"]
    assert results["TLS-T-LATER"]["status"] == "error"
    assert "budget was spent" in results["TLS-T-LATER"]["summary"]
    assert outcome.report["run"]["complete"] is True


# --- the run's folder and its one id ------------------------------------------------------------

def test_an_engine_writes_nothing_until_it_runs_and_has_one_run_id(
        tmp_path: Path, registry: Throwaway) -> None:
    context_yielding(registry, lambda run_ctx: run_ctx.run_id)

    @registry.check("SAST-T-RUN-ID", suite=SUITE, severity=Severity.LOW, requirement="test: run id")
    def reports_run_id(run_id: str) -> CheckResult:
        """Hands back the run id the suites send the mock NPDB."""
        return CheckResult.passed(run_id)

    config = config_from_dict({
        "system": {"name": "Engine test system", "organisation": "tests", "level": "district"},
        "target": {"base_url": "http://127.0.0.1:9"}, "suites": [SUITE],
        "output_dir": str(tmp_path / "runs")}, tmp_path)
    engine = Engine(config, npdb=None, today=TODAY, registry=registry.registry())
    assert not (tmp_path / "runs").exists()
    outcome = engine.run()
    assert (outcome.run_dir / "results.jsonl").is_file()
    assert by_id(outcome)["SAST-T-RUN-ID"]["summary"] == outcome.report["run"]["id"]


# --- issue 21: real durations -----------------------------------------------------------------

def test_checks_judging_a_shared_phase_carry_their_share_of_its_time(
        tmp_path: Path, registry: Throwaway) -> None:
    """A suite whose factory does the work (as conformance fuzzes and scenario drives every step)
    no longer reports 0.0 s for its checks: each carries an equal share of the setup, the shares
    add up to it, and report.json records the suite's phase times and the run's duration."""
    @registry.context(SUITE)
    def shared_work(run_ctx: RunContext) -> Iterator[Any]:
        time.sleep(0.6)  # e.g. one fuzzing run every check reads
        yield None

    for name in ("A", "B", "C"):
        registry.check(f"SAST-T-{name}", suite=SUITE, severity=Severity.HIGH,
                       requirement="test")(lambda ctx: CheckResult.passed("read the shared run"))
    outcome = run(tmp_path)
    durations = [r["duration_s"] for r in by_id(outcome).values()]
    assert all(d >= 0.2 for d in durations), durations  # 0.6 s / 3 each, at least
    (phase,) = [p for p in outcome.report["run"]["phases"] if p["suite"] == SUITE]
    assert phase["setup_s"] >= 0.6
    # The shares add up to the setup; the rest is the checks' own time (recording excluded).
    assert phase["setup_s"] - 0.01 <= sum(durations) <= phase["setup_s"] + phase["checks_s"] + 0.01
    assert phase["duration_s"] >= phase["setup_s"] + phase["checks_s"]
    assert outcome.report["run"]["duration_s"] >= phase["duration_s"]
    # The document reads back the same, and JUnit's suite time is the real one.
    assert read_report(outcome.run_dir / "report.json").run.phases[0].setup_s == phase["setup_s"]
    junit = (outcome.run_dir / "junit.xml").read_text(encoding="utf-8")
    assert 'time="0.000"' not in junit


def test_a_suite_that_cannot_start_shares_the_time_it_spent_trying(
        tmp_path: Path, registry: Throwaway) -> None:
    @registry.context(SUITE)
    def slow_then_broken(run_ctx: RunContext) -> Iterator[Any]:
        time.sleep(0.4)
        raise SuiteUnavailable("the endpoint went away")
        yield  # pragma: no cover - makes this a generator

    for name in ("A", "B"):
        registry.check(f"SAST-T-{name}", suite=SUITE, severity=Severity.HIGH,
                       requirement="test")(lambda ctx: CheckResult.passed("unreachable"))
    outcome = run(tmp_path)
    durations = [r["duration_s"] for r in by_id(outcome).values()]
    (phase,) = outcome.report["run"]["phases"]
    assert phase["setup_s"] >= 0.4 and all(d >= 0.2 for d in durations)
    assert sum(durations) == pytest.approx(phase["setup_s"], abs=0.01)  # not 2 x the time
