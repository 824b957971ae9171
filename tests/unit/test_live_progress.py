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
    assert last["requests"] == outcome.requests > 0
    assert last["failed"] >= 1 and outcome.failure_counts.get("not_a_server_error", 0) >= 1
    text = progress_text(json.dumps(last))
    assert text is not None and text.startswith(f"{outcome.requests} requests, ")
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
