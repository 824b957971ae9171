"""Reports survive any content, end to end: `popcert certify` against hostile servers on 127.0.0.1.

deep arrays answers every request with JSON nested 1,500 deep in 3 KB (short enough to be kept
whole as evidence), deep_json with 1,500 nested objects (16 KB, cut as evidence); markup answers with HTML,
script, ANSI escapes and control bytes. Before the fix the first crashed html.pretty with
RecursionError (exit 2, no verdict). Each run must end with a verdict and a report, and neither
the terminal output nor report.html may carry the SUT's control characters. `popcert report
RUN_DIR` must rebuild the same run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.hostile.servers import HostileServer, _answer, deep_json, markup

POPCERT = Path(sys.executable).parent / "popcert"
RUN_LIMIT_S = 240
CONTROL = ("\x1b", "\x07", "\x00", "\x08")

pytestmark = pytest.mark.integration


def _certify(tmp_path: Path, url: str, scope: list[str], mock_npdb: Any) -> tuple[subprocess.CompletedProcess[str], Path]:
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump({
        "system": {"name": "Hostile \x1b[31mred\x1b[0m", "organisation": "tests", "level": "district"},
        "target": {"base_url": url, "timeout_s": 3},
        "suites": ["auth"], "quick": True,
        "npdb": {"start": False, "state_dir": str(mock_npdb.state_dir)},
        "output_dir": str(tmp_path / "runs"),
        "scope": {"allowed_hosts": scope},
        "limits": {"check_s": 20, "default_suite_s": 120}}), encoding="utf-8")
    done = subprocess.run([str(POPCERT), "certify", "-c", str(config)], capture_output=True, text=True,
                          timeout=RUN_LIMIT_S, env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200"},
                          check=False)
    runs = list((tmp_path / "runs").glob("*/*/report.json"))
    assert runs, done.stdout[-2000:] + done.stderr[-2000:]
    return done, runs[0].parent


def deep_arrays(depth: int = 1500) -> HostileServer:
    body = ("[" * depth + "]" * depth).encode()  # the 3 KB body that crashed html.pretty
    return HostileServer(lambda conn, req, srv: _answer(
        conn, 200, {"Content-Type": "application/json", "X-Trace": "\x1b[2Jcleared"}, body))


@pytest.mark.parametrize("make_server", [deep_arrays, deep_json, markup],
                         ids=["deep-arrays", "deep-json", "markup-ansi"])
def test_hostile_bodies_end_in_a_verdict_and_a_clean_report(tmp_path: Path, mock_npdb: Any,
                                                            make_server: Any) -> None:
    with make_server() as sut:
        done, run_dir = _certify(tmp_path, sut.url, sut.scope, mock_npdb)
    assert done.returncode in (0, 1), done.stderr[-3000:]  # a verdict, not a harness crash
    # A check may end `error` on such a body (that is its verdict); the harness itself never crashes.
    assert "verdict: " in done.stdout and "internal error" not in done.stderr
    assert "RecursionError" not in done.stdout  # no check chokes on the body either
    assert not any(ch in done.stdout + done.stderr for ch in CONTROL)
    report = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))
    assert report["verdict"]["status"] in ("CERTIFIED", "NOT CERTIFIED", "INCOMPLETE")
    html = (run_dir / "report.html").read_text(encoding="utf-8")
    assert not any(ch in html for ch in CONTROL)
    assert "<script>alert" not in html
    if make_server is deep_arrays:  # the body was rendered, cut, not a crash
        assert "nested deeper than" in html
    # The rebuild reads results.jsonl, hostile evidence included.
    rebuilt = subprocess.run([str(POPCERT), "report", str(run_dir)], capture_output=True, text=True,
                             timeout=120, check=False)
    assert rebuilt.returncode == 0, rebuilt.stderr[-3000:]
