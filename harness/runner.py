"""Glue between the CLI and the engine: start the mock NPDB when asked, draw progress, print the verdict."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rich.console import Console

from harness import resources
from harness.config import RunConfig
from harness.engine import Engine, Progress, RunOutcome
from harness.live_view import LiveView
from harness.profiles import Profile
from harness.report.banner import DEMO, QUICK, banner_for, banner_line
from harness.report_model import RecordedResult
from harness.run_summary import end_summary
from harness.sut.npdb_boundary import NPDBHandle
from harness.untrusted import strip_control

EXAMPLE_CONFIG = resources.example_config()

_STATUS_STYLE = {"pass": "green", "fail": "bold red", "error": "bold magenta", "skip": "yellow"}


class RichProgress(Progress):
    def __init__(self, console: Console, view: LiveView | None = None) -> None:
        self.console = console
        # What each running suite is doing (a spinner line, or plain lines in CI and logs).
        self.view = view or LiveView(console)
        self._checks: dict[str, list[int]] = {}  # suite -> [results so far, its checks]

    def run_started(self, config: RunConfig, profile: Profile, run_dir: Path) -> None:
        if config.quick:  # said first: nothing this run prints is a certification
            self.console.print(f"[bold yellow]{banner_line(banner_for(QUICK, True))}[/]",
                               highlight=False)
        self.console.print(f"popcert: certifying [bold]{_one_line(config.system.name)}[/] against "
                           f"profile [bold]{profile.name}[/]; results stream to:")
        print_path(self.console, run_dir)

    def suite_started(self, suite: str, total: int) -> None:
        self.console.print(f"[bold]▶ {suite}[/] ({total} checks)")
        self._checks[suite] = [0, total]
        self.view.start(suite, "starting")

    def phase_update(self, suite: str, text: str, *, done: int | None = None,
                     total: int | None = None) -> None:
        self.view.update(suite, text, done=done, total=total)

    def suite_finished(self, suite: str) -> None:
        self.view.finish(suite)

    def result(self, record: RecordedResult) -> None:
        status = str(record.result.status)
        mark = "" if record.mandatory else " [dim](advisory)[/]"
        self.console.print(
            f"  [{_STATUS_STYLE.get(status, 'white')}]{status.upper():6}[/] {record.check.id}"
            f"{mark} [dim]{record.duration_s:.1f}s[/] {_one_line(record.result.summary)}",
            highlight=False, markup=True, soft_wrap=True)
        counted = self._checks.get(record.check.suite)
        if counted is not None and not self.view.plain:  # plain output has the line above
            counted[0] += 1
            self.view.update(record.check.suite, f"{counted[0]}/{counted[1]} checks judged",
                             done=counted[0], total=counted[1])


def print_path(console: Console, path: Path, label: str = "  ") -> None:
    """A path on a line of its own, never wrapped or cropped: it must copy-paste whole."""
    console.print(f"{label}{strip_control(str(path), keep_newlines=False)}", markup=False,
                  highlight=False, soft_wrap=True, crop=False, overflow="ignore")


def _one_line(text: str, limit: int = 110) -> str:
    from rich.markup import escape

    # Summaries quote what the SUT and vendor sent: no terminal escape may reach the console.
    text = strip_control(str(text), keep_newlines=False)
    return escape(text if len(text) <= limit else text[: limit - 1] + "…")


@contextlib.contextmanager
def npdb_for(config: RunConfig) -> Iterator[NPDBHandle]:
    """The mock NPDB the run audits: started for the run, or an already running one."""
    if not config.npdb.start:
        from harness.errors import ConfigError
        from harness.lab import RunningMock

        if not (config.npdb.state_dir / "ready.json").exists():
            raise ConfigError(config.source_file or "run.yaml", "npdb.state_dir",
                              f"no running mock NPDB found in {config.npdb.state_dir}",
                              "start one with `popcert mock serve --state-dir DIR` or set "
                              "npdb.start: true")
        yield RunningMock(config.npdb.state_dir, population=config.npdb.population,
                          seed=config.npdb.seed)
        return
    from popcert_npdb.client import MockNPDB, MockPortError

    # The mock delivers notifications to the SUT: let it trust the SUT's own server CA too.
    sut_ca = [Path(config.target.ca_bundle)] if config.target.ca_bundle else []
    try:
        with MockNPDB(config.npdb.state_dir, population=config.npdb.population,
                      seed=config.npdb.seed, mtls=config.npdb.mtls, trust_ca=sut_ca,
                      data_port=config.npdb.data_port, admin_port=config.npdb.admin_port) as npdb:
            yield npdb
    except MockPortError as taken:  # raised by the start only: the asked-for port is not free
        from harness.errors import ConfigError

        raise ConfigError(config.source_file or "run.yaml", f"npdb.{taken.role}_port",
                          f"the mock NPDB cannot listen on port {taken.port}: {taken.reason}",
                          "choose a free port, or 0 for any free port") from None


def certify_with_config(config: RunConfig, *, console: Console, npdb: Any = None,
                        command: str = "", demo: bool = False) -> RunOutcome:
    if npdb is None:
        with npdb_for(config) as started:
            return _run(config, console, started, command, demo)
    return _run(config, console, npdb, command, demo)


def _run(config: RunConfig, console: Console, npdb: Any, command: str,
         demo: bool = False) -> RunOutcome:
    outcome = Engine(config, npdb=npdb, progress=RichProgress(console), command=command,
                     demo=demo).run()
    print_verdict(outcome, console)
    return outcome


def print_verdict(outcome: RunOutcome, console: Console) -> None:
    status = outcome.verdict.status
    style = {"CERTIFIED": "bold green", "NOT CERTIFIED": "bold red"}.get(status, "bold yellow")
    banner = banner_line(getattr(getattr(outcome, "document", None), "banner", None))
    if banner:  # a demo or --quick run: whatever its verdict, it is not a certification
        console.print(f"[bold yellow]{banner}[/]", highlight=False)
    print_reasons(outcome, console)
    report = outcome.files.get("html", outcome.run_dir / "report.html")
    if outcome.verdict.inconclusive:  # saturated while measuring: not a failure of the system
        print(f"inconclusive: {', '.join(outcome.verdict.inconclusive)} measured while popcert "
              "was saturated; no mandatory check failed; re-run on a quieter host")
    # The end summary (verdict, counts, duration); the report's path follows on its own line.
    summary = end_summary(status, getattr(outcome, "document", None),
                          inconclusive=bool(outcome.verdict.inconclusive))
    console.print(summary, style=style, markup=False, highlight=False, soft_wrap=True)
    # The last two lines on stdout are what make demo and CI scripts read; print() never wraps.
    print(f"report: {report}", flush=True)
    print(f"verdict: {status}", flush=True)


def print_reasons(outcome: RunOutcome, console: Console) -> None:
    """Why not certified: every failure and error first, with its one-line reason; skips one
    line per suite (harness.report.why); a partial --suite run says so."""
    from harness.report.document import ReportDocument
    from harness.report.why import ordered_reasons, partial_run_line

    document = getattr(outcome, "document", None)
    results = document.results if isinstance(document, ReportDocument) else ()
    partial = partial_run_line(document) if isinstance(document, ReportDocument) else None
    if partial:
        console.print(f"  [yellow]{_one_line(partial, 300)}[/]", highlight=False)
    for line in ordered_reasons(outcome.verdict.reasons, results):
        style = _STATUS_STYLE.get(line.kind, "white")
        console.print(f"  [{style}]-[/] {_one_line(line.text, 300)}", highlight=False)


def run_demo(*, defects: frozenset[str], quick: bool, suites: list[str] | None, level: str,
             console: Console, workdir: Path | None = None) -> RunOutcome:
    from harness.lab import Lab, city_options_for

    workdir = workdir or resources.default_work_root() / "demo"
    console.print(f"[bold yellow]{banner_line(banner_for(DEMO, quick))}[/]", highlight=False)
    console.print("popcert demo: starting the mock NPDB and the reference city system on "
                  "127.0.0.1" + (f" with defects {sorted(defects)}" if defects else ""))
    with Lab(workdir, defects=defects, city_options=city_options_for(level)) as lab:
        # No run.yaml to sit beside: ./reports/runs (make demo: the checkout's), never site-packages.
        config = lab.run_config(suites=suites, quick=quick, level=level,
                                output_dir=resources.default_output_dir().resolve())
        return certify_with_config(config, console=console, npdb=lab.npdb,
                                   command="popcert demo", demo=True)
