"""Issue 21 §5: live progress of the long phases, read back from child processes safely.

The schemathesis child reports requests, failed requests and the operation through a file the
parent reads the end of; whatever that file holds (garbage, a huge line, escapes, a link), the
parent reads a bounded amount and shows one clean line or nothing.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from harness.live import MAX_TEXT, TAIL_BYTES, read_last_line
from harness.suites.conformance.progress import PROGRESS_FILE, progress_text
from harness.suites.conformance.runner import FuzzPlan, run_schemathesis
from tests.unit.test_conformance_runner import APP, SPEC, serve


def test_the_schemathesis_child_reports_requests_and_failures(tmp_path: Path) -> None:
    (tmp_path / "spec.yaml").write_text(SPEC)
    (tmp_path / "app.py").write_text(APP)
    seen: list[str] = []
    for base_url in serve(tmp_path / "app.py", "server_error"):
        plan = FuzzPlan(spec_path=tmp_path / "spec.yaml", base_url=base_url, token="toy-token",
                        workdir=tmp_path / "run", seed=11, max_examples=8,
                        bearer_scheme="nationalToken", request_timeout_s=2.0, wall_timeout_s=90.0)
        outcome = run_schemathesis(plan, on_progress=seen.append)
    last = json.loads(read_last_line(tmp_path / "run" / PROGRESS_FILE) or "{}")
    # The child's final line (written at the engine's last event) agrees with the event report.
    assert last["requests"] >= outcome.requests > 0  # sent; the report counts recorded ones
    assert last["failed"] >= 1 and outcome.failure_counts.get("not_a_server_error", 0) >= 1
    text = progress_text(json.dumps(last))
    assert text is not None and text.startswith(f"{last['requests']} requests, ")
    assert all("requests" in line and "failed" in line for line in seen)


def test_a_progress_line_is_read_as_untrusted_input(tmp_path: Path) -> None:
    progress = tmp_path / PROGRESS_FILE
    progress.write_text(json.dumps({"requests": 5, "failed": 1, "phase": "fuzzing",
                                    "operation": "GET /x\x1b[2J\x1b]0;pwned\x07" + "y" * 500}) + "\n")
    text = progress_text(read_last_line(progress))
    assert text is not None and text.startswith("5 requests, 1 failed, GET /x")
    assert "\x1b" not in text and "\x07" not in text and len(text) <= MAX_TEXT
    for garbage in ('{"requests": "many"}\n', "not json\n", "[1, 2]\n", '{"requests": 1}\n'):
        progress.write_text(garbage)
        assert progress_text(read_last_line(progress)) is None


def test_reading_the_last_line_is_bounded_and_follows_no_link(tmp_path: Path) -> None:
    huge = tmp_path / "huge"
    with huge.open("wb") as out:  # one 8 MiB line, then a partial one: nothing complete to show
        out.write(b'{"requests": 1, "failed": 0}\n' + b"x" * (8 << 20) + b"\n" + b"partial")
    assert read_last_line(huge) is None
    assert os.path.getsize(huge) > TAIL_BYTES
    target = tmp_path / "target"
    target.write_text('{"requests": 1, "failed": 0}\n')
    (tmp_path / "link").symlink_to(target)
    assert read_last_line(tmp_path / "link") is None
    assert read_last_line(tmp_path / "missing") is None
    assert read_last_line(target) == '{"requests": 1, "failed": 0}'


@pytest.mark.parametrize("lines, last", [("a\nb\n", "b"), ("a\nb", "a"), ("", None)])
def test_only_a_complete_line_counts(tmp_path: Path, lines: str, last: str | None) -> None:
    (tmp_path / "f").write_text(lines)
    assert read_last_line(tmp_path / "f") == last


# --- how the terminal shows it (harness/live_view.py) -------------------------------------------

class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_plain_output_prints_at_most_a_line_every_few_seconds_per_phase() -> None:
    import io

    from rich.console import Console

    from harness.live_view import LiveView

    out, clock = io.StringIO(), FakeClock()
    view = LiveView(Console(file=out, width=200), plain=True, every_s=5.0, clock=clock)
    view.start("conformance", "starting")
    view.start("load", "starting")
    for second in range(12):  # one update a second for 12 s, from two phases
        clock.now = 100.0 + second
        view.update("conformance", f"{second * 10} requests, 0 failed")
        view.update("load", f"{second} users")
    lines = out.getvalue().splitlines()
    assert [line for line in lines if "conformance" in line] == [
        "  … conformance: 0 requests, 0 failed", "  … conformance: 50 requests, 0 failed",
        "  … conformance: 100 requests, 0 failed"]
    assert len([line for line in lines if "load" in line]) == 3


def test_ci_or_a_pipe_gets_plain_lines_a_terminal_gets_a_live_line(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from rich.console import Console

    from harness.live_view import LiveView, plain_output

    terminal = Console(file=io.StringIO(), force_terminal=True, width=120)
    monkeypatch.delenv("CI", raising=False)
    assert plain_output(Console(file=io.StringIO())) is True  # not a terminal
    assert plain_output(terminal) is False
    monkeypatch.setenv("CI", "true")
    assert plain_output(terminal) is True
    monkeypatch.delenv("CI")
    out = io.StringIO()
    view = LiveView(Console(file=out, force_terminal=True, width=120))
    view.start("scenario", "starting")
    view.update("scenario", "step 3/14: birth/submit\x1b]0;pwned\x07", done=2, total=14)
    assert view._display is not None
    view._display.refresh()
    view.finish("scenario")
    assert view._display is None  # stopped with its last suite; the line was transient
    shown = out.getvalue()
    assert "scenario: step 3/14: birth/submit" in shown and "pwned\x07" not in shown


def test_load_progress_reads_users_rate_p95_and_time_left_from_locust(tmp_path: Path) -> None:
    from harness.suites.load.progress import load_progress

    history = tmp_path / "locust_stats_history.csv"
    header = ("Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,"
              "99%,99.9%,99.99%,100%,Total Request Count,Total Failure Count,"
              "Total Median Response Time,Total Average Response Time,Total Min Response Time,"
              "Total Max Response Time,Total Average Content Size\n")
    assert load_progress(history, elapsed_s=5, duration_s=60) == "starting locust, 55 s left"
    history.write_text(
        header
        + "1700000001,50,POST,/dossiers,20.0,0.0,80,90,95,100,110,130,140,150,160,170,180,"
          "400,0,80,85,10,180,512\n"
        + "1700000001,50,,Aggregated,48.3,0.2,70,80,90,100,110,120,140,150,160,170,180,"
          "960,2,70,75,10,180,512\n")
    assert (load_progress(history, elapsed_s=45.2, duration_s=120)
            == "50 users, 48 req/s, p95 120 ms, 2 failed, 75 s left")
    history.write_text(header + "1700000001,N/A,,Aggregated,x,,,,,,,,,,,,,,\n")
    assert load_progress(history, elapsed_s=130, duration_s=120) == "0 s left"


def test_a_finished_suite_shows_no_more_progress() -> None:
    """A check thread abandoned at its time limit may still report: nothing shows after its
    suite finished, nor for a suite that never started."""
    import io

    from rich.console import Console

    from harness.live_view import LiveView

    out, clock = io.StringIO(), FakeClock()
    view = LiveView(Console(file=out, width=200), plain=True, clock=clock)
    view.update("tls", "sslyze scan of 127.0.0.1:8443: 3 s")
    view.start("conformance", "starting")
    view.update("conformance", "10 requests, 0 failed")
    view.finish("conformance")
    clock.now += 60
    view.update("conformance", "900 requests, 0 failed")
    assert out.getvalue().splitlines() == ["  … conformance: 10 requests, 0 failed"]
