"""Issue 21 §5: a run ends with one summary line (verdict, counts, duration) and the report's
path on a line of its own that no terminal width wraps, so it copy-pastes whole."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from harness.engine import RunOutcome
from harness.profiles import Verdict
from harness.run_summary import duration_text
from harness.runner import RichProgress, print_verdict
from tests.unit.report.sample_report import doc, sample_report

DEEP = Path("/srv/popcert/" + "/".join(f"folder-number-{n}" for n in range(8))) / "run"


def _outcome(duration_s: float | None) -> RunOutcome:
    report = sample_report()
    if duration_s is not None:
        report["run"]["duration_s"] = duration_s
    verdict = Verdict("NOT CERTIFIED", ("AUTH-JWT-ALG-NONE: accepted",), ("AUTH-JWT-ALG-NONE",))
    return RunOutcome(DEEP, doc(report), verdict, {"html": DEEP / "report.html"})


def test_the_end_summary_names_verdict_counts_and_duration(
        capsys: pytest.CaptureFixture[str]) -> None:
    console = io.StringIO()
    print_verdict(_outcome(71.2), Console(file=console, width=60))
    assert ("NOT CERTIFIED: 3 failed, 1 error, 3 passed, 2 skipped in 1 min 11 s"
            in console.getvalue().replace("\n", " "))
    lines = capsys.readouterr().out.splitlines()
    assert lines[-2] == f"report: {DEEP / 'report.html'}"  # whole, on its own line
    assert lines[-1] == "verdict: NOT CERTIFIED"


def test_a_report_without_a_recorded_duration_still_gets_its_counts() -> None:
    console = io.StringIO()
    print_verdict(_outcome(None), Console(file=console, width=200))
    assert "NOT CERTIFIED: 3 failed, 1 error, 3 passed, 2 skipped\n" in console.getvalue()


def test_the_run_folder_is_printed_whole_on_a_narrow_terminal() -> None:
    from harness.config import config_from_dict
    from harness.profiles import load_profile

    config = config_from_dict({
        "system": {"name": "City", "organisation": "tests", "level": "district"},
        "target": {"base_url": "http://127.0.0.1:9"}, "suites": ["sast"]}, Path("/tmp"))
    out = io.StringIO()
    RichProgress(Console(file=out, width=40)).run_started(config, load_profile("district"), DEEP)
    assert str(DEEP) in out.getvalue().splitlines()[-1]


@pytest.mark.parametrize("seconds, text", [(8.44, "8.4 s"), (71.2, "1 min 11 s"),
                                           (3725, "1 h 02 min")])
def test_durations_read_as_a_person_says_them(seconds: float, text: str) -> None:
    assert duration_text(seconds) == text
