"""The run engine: config → suites → results.jsonl → report → verdict.

Results are appended to ``results.jsonl`` as they happen and an INCOMPLETE report is rewritten
after every suite, so a run that is interrupted (Ctrl-C, SIGTERM, even SIGKILL) still leaves a
report. A check that raises or overruns its time limit becomes ``error``; the run goes on. On an
interrupt every process started during the run (harness.processes) is stopped before the report.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

from harness import processes
from harness.checks import Check, CheckResult, Evidence, EvidenceKind, Status, SuiteUnavailable
from harness.config import RunConfig
from harness.live import LiveStatus
from harness.profiles import Profile, Verdict, load_profile
from harness.registry import Registry, default_registry
from harness.report import chain
from harness.report.document import PhaseEntry, ReportDocument
from harness.report_model import (
    RecordedResult,
    RunEnd,
    assessor_inputs,
    build_report,
    gather_run_facts,
    locate_findings,
    record_core,
)
from harness.run_context import RunContext, run_id_for
from harness.sut.npdb_boundary import NPDBHandle


class Progress(LiveStatus):
    """Receives progress events; the CLI draws them with rich, tests ignore them. A suite's own
    progress within a long phase comes through ``phase_update`` (RunContext.live)."""

    def run_started(self, config: RunConfig, profile: Profile, run_dir: Path) -> None: ...

    def suite_started(self, suite: str, total: int) -> None: ...

    def result(self, record: RecordedResult) -> None: ...

    def suite_finished(self, suite: str) -> None: ...


@dataclass
class RunOutcome:
    run_dir: Path
    document: ReportDocument
    verdict: Verdict
    files: dict[str, Path]

    @property
    def exit_code(self) -> int:
        return self.verdict.exit_code

    @cached_property
    def report(self) -> dict[str, Any]:
        """The report as report.json holds it (JSON), for callers that compare it as data."""
        return self.document.to_json()


class _Timeout(Exception):
    pass


def _call_with_limit(function: Callable[[], Any], limit_s: float) -> Any:
    """Run ``function`` in a worker thread; a stuck check cannot hold the whole run.

    Python cannot kill a thread, so an overrunning one is abandoned (daemon) and reported.
    Joining in short slices keeps Ctrl-C responsive in the main thread.
    """
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = function()
        except BaseException as failure:  # noqa: BLE001 - reported as an error result
            box["error"] = failure
            box["traceback"] = traceback.format_exc()

    worker = threading.Thread(target=target, daemon=True, name="popcert-check")
    worker.start()
    deadline = time.monotonic() + limit_s
    while worker.is_alive():
        worker.join(timeout=min(0.2, max(0.0, deadline - time.monotonic())))
        if worker.is_alive() and time.monotonic() >= deadline:
            raise _Timeout(f"exceeded its time limit of {limit_s:g} s")
    if "error" in box:
        failure = box["error"]
        failure.__popcert_traceback__ = box["traceback"]
        raise failure
    return box.get("value")


class ResultLog:
    """Append-only results.jsonl, flushed per line so a crash loses at most the check in flight."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = path.open("a", encoding="utf-8")
        # Each line carries the results' digest chain up to it (harness/report/chain.py): the
        # report's head must be this file's last link, so a result deleted later shows.
        self._link = chain.GENESIS

    def write(self, record: RecordedResult) -> None:
        self._link = chain.link(self._link, record_core(record))
        self._file.write(json.dumps({**record.to_json(), chain.CHAIN_FIELD: self._link},
                                    ensure_ascii=False) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()


def new_run_dir(config: RunConfig, started: datetime) -> Path:
    slug = re.sub(r"[^a-z0-9]+", "-", config.system.name.lower()).strip("-")[:60] or "system"
    stamp = started.strftime("%Y%m%dT%H%M%S") + f"-{started.microsecond // 1000:03d}"
    from harness.run_folder import create_run_folder

    # No symbolic link below output_dir is followed (issue 24): a planted link is refused.
    return create_run_folder(config.output_dir, slug, stamp, config.source_file or "run.yaml")


# A --quick run ends in minutes whatever the SUT does (issue 12: under 10 min against a hostile
# SUT, report included); a compliant system's quick run needs about a third of it.
QUICK_RUN_BUDGET_S = 420.0


class Engine:
    # Set when the run starts (``run``): constructing an engine writes nothing to disk.
    started: datetime
    run_dir: Path
    run_id: str
    log: ResultLog
    budget_ends: float | None

    def __init__(self, config: RunConfig, *, npdb: NPDBHandle | None = None,
                 progress: Progress | None = None,
                 today: date | None = None, command: str = "",
                 registry: Registry | None = None, demo: bool = False) -> None:
        self.registry = registry or default_registry()
        self.demo = demo  # `popcert demo`: the bundled reference system, never a certification
        self.config = config
        self.profile: Profile = load_profile(config.profile_name)
        # Read once, before the run: a bad waivers/attestations file fails now, not mid-run.
        self.assessor = assessor_inputs(config)
        self.npdb = npdb
        self.progress = progress or Progress()
        self.today = today or date.today()
        self.command = command
        self.records: list[RecordedResult] = []
        self.interrupted: str | None = None
        self.files: dict[str, Path] = {}
        self.phases: list[PhaseEntry] = []  # each suite's wall-clock time (report run.phases)
        self._spawned_before = processes.mark()

    # --- the run ---------------------------------------------------------------------------
    def _start(self) -> None:
        self.started = datetime.now(UTC)
        self._clock_started = time.monotonic()
        self.run_dir = new_run_dir(self.config, self.started)
        # Kept beside the results so `popcert report RUN_DIR` can rebuild a killed run's report.
        (self.run_dir / "config.json").write_text(self.config.model_dump_json(indent=2),
                                                  encoding="utf-8")
        self.log = ResultLog(self.run_dir / "results.jsonl")
        self.run_id = run_id_for(self.run_dir)  # the same id the suites send the mock NPDB
        self.budget_ends = time.monotonic() + QUICK_RUN_BUDGET_S if self.config.quick else None
        # Read once, at run start: the report rewritten after every suite does no I/O of its own.
        self.facts = gather_run_facts(self.config, self.profile, self.registry.ids(),
                                      run_id=self.run_id, started=self.started, today=self.today,
                                      command=self.command, assessor=self.assessor,
                                      demo=self.demo)
        self.progress.run_started(self.config, self.profile, self.run_dir)

    def run(self) -> RunOutcome:
        self._start()
        context = RunContext.for_run(self.config, self.profile, self.run_dir, npdb=self.npdb)
        context.live = self.progress
        context.workdir.mkdir(exist_ok=True)
        self._write_report(complete=False)
        self._spawned_before = processes.mark()
        try:
            for suite in self.config.ordered_suites():
                self._run_suite(suite, context)
                self._write_report(complete=False)
            for suite in self.registry.suites():
                if suite in self.config.suites:
                    continue
                for check in self.registry.for_suite(suite):
                    self._record(check, CheckResult.skipped(
                        f"suite {suite!r} is not selected in the run config"), 0.0,
                        announce=False)
        except KeyboardInterrupt:
            self.interrupted = "interrupted (Ctrl-C or SIGTERM) before every suite finished"
            # A check's worker thread cannot be killed, but what it started can: no fuzzer or
            # load generator keeps hitting the SUT while the report is written.
            self._stop_children()
        finally:
            self.log.close()
        document = self._write_report(complete=self.interrupted is None, last=True)
        verdict = Verdict(document.verdict.status, document.verdict.reasons,
                          document.verdict.blocking, document.verdict.inconclusive)
        return RunOutcome(self.run_dir, document, verdict, self.files)

    def _run_suite(self, suite: str, context: RunContext) -> None:
        checks = self.registry.for_suite(suite)
        self.progress.suite_started(suite, len(checks))
        limit = self.config.limits.suite_s.get(suite, self.config.limits.default_suite_s)
        if self.budget_ends is not None:
            left = self.budget_ends - time.monotonic()
            if left < 1:
                for check in checks:
                    self._record(check, CheckResult.errored(
                        f"the --quick run's {QUICK_RUN_BUDGET_S:g} s budget was spent before "
                        f"suite {suite} could run"), 0.0)
                self.progress.suite_finished(suite)
                return
            limit = min(limit, left)
        deadline = time.monotonic() + limit
        declared = self.registry.suite(suite)
        if declared is None:
            self.progress.suite_finished(suite)
            return  # a suite this registry does not have (a test's registry): nothing to run
        factory = declared.context
        generator: Iterator[Any] | None = None
        started = time.monotonic()
        try:
            generator = factory(context)
            suite_ctx = _call_with_limit(lambda: next(generator), limit)
        except KeyboardInterrupt:
            self._stop_children()
            raise
        except BaseException as failure:  # noqa: BLE001 - every check of the suite reports it
            if isinstance(failure, SuiteUnavailable):
                summary, evidence = failure.summary, failure.evidence
            else:
                summary = f"suite {suite} could not start: {_describe(failure)}"
                evidence = _traceback_evidence(failure)
            setup_s = time.monotonic() - started
            for check in checks:
                self._record(check, CheckResult.errored(summary, *evidence),
                             setup_s / max(1, len(checks)))
            self.phases.append(PhaseEntry(suite, round(setup_s, 3), 0.0, 0.0))
            self.progress.suite_finished(suite)
            return
        # The factory's shared work (one fuzzing run, every scenario, one load run, one scan) is
        # what its checks judge: each check's duration carries an equal share of it.
        setup_s = time.monotonic() - started
        share = setup_s / len(checks) if checks else 0.0
        checks_started = time.monotonic()
        try:
            for check in checks:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self._record(check, CheckResult.errored(
                        f"suite {suite} exceeded its time limit of {limit:g} s"), share)
                    continue
                self._run_check(check, suite_ctx, min(check.timeout_s,
                                                     self.config.limits.check_s, remaining), share)
        except KeyboardInterrupt:
            self._stop_children()  # before the suite's teardown, which may take a while
            raise
        finally:
            checks_ended = time.monotonic()
            _close(generator)
            self.phases.append(PhaseEntry(suite, round(setup_s, 3),
                                          round(checks_ended - checks_started, 3),
                                          round(time.monotonic() - checks_ended, 3)))
            self.progress.suite_finished(suite)

    def _run_check(self, check: Check, suite_ctx: Any, limit: float, share_s: float = 0.0) -> None:
        started = time.monotonic() - share_s  # its share of the suite's shared work, then its own
        try:
            result = _call_with_limit(lambda: check.function(suite_ctx), limit)
            if not isinstance(result, CheckResult):
                result = CheckResult.errored(
                    f"harness bug: check returned {type(result).__name__}, not CheckResult")
        except KeyboardInterrupt:
            raise
        except _Timeout as overrun:
            result = CheckResult.errored(f"the check {overrun}")
        except BaseException as failure:  # noqa: BLE001
            result = CheckResult.errored(f"the check raised {_describe(failure)}",
                                         *_traceback_evidence(failure))
        self._record(check, result, time.monotonic() - started)

    def _stop_children(self) -> None:
        """End every process started during this run (a fuzzer, a load generator), not before."""
        processes.stop_children(newer_than=self._spawned_before)

    def _record(self, check: Check, result: CheckResult, duration_s: float,
                announce: bool = True) -> None:
        record = RecordedResult(check, result, self.profile.is_mandatory(check.id),
                                datetime.now(UTC).isoformat(timespec="seconds"),
                                round(duration_s, 3))
        self.records.append(locate_findings(record, self.facts))
        self.log.write(record)
        if announce:
            self.progress.result(record)

    # --- reporting ---------------------------------------------------------------------------
    def _write_report(self, complete: bool, last: bool = False) -> ReportDocument:
        document = build_report(self.facts, self.records, RunEnd(
            complete, self.interrupted, datetime.now(UTC),
            round(time.monotonic() - self._clock_started, 3), tuple(self.phases)))
        # A report written while suites remain is replaced by the next one: only the run's last
        # is checked against the schema (the renderers read the typed document either way).
        self.files = write_report_files(document, self.run_dir, check=last)
        return document


def write_report_files(document: ReportDocument, run_dir: Path, *,
                       check: bool = True) -> dict[str, Path]:
    from harness.report.render import render_all

    return render_all(document, run_dir, check=check)


def _close(generator: Iterator[Any] | None) -> None:
    if generator is None:
        return
    with contextlib.suppress(BaseException):  # teardown problems must not lose results
        _call_with_limit(lambda: next(generator, None), 60)


def _describe(failure: BaseException) -> str:
    return f"{type(failure).__name__}: {failure}"[:500]


def _traceback_evidence(failure: BaseException) -> tuple[Evidence, ...]:
    text = getattr(failure, "__popcert_traceback__", None) or "".join(
        traceback.format_exception(failure))
    return (Evidence(EvidenceKind.TRACEBACK, "traceback", {"text": text[-6000:]}),)


def run(config: RunConfig, **kwargs: Any) -> RunOutcome:
    return Engine(config, **kwargs).run()


__all__ = ["Engine", "Progress", "RunOutcome", "Status", "run"]
