"""Runs are isolated (issue 12 item 8): two `popcert certify` runs at once against one mock NPDB,
then a re-run against the same (still running) mock, all with the same seed, judge the reference
system exactly as a solo run on a fresh mock does: every scenario check passes.

Without run namespaces the parallel runs saw each other's faults and audit entries (false FAILs
of SCN-CALL-BUDGET, SCN-OWN-CREDENTIALS, SCN-PURPOSE-CODE) and the re-run drew the person whose
death the first run had recorded (SCN-OUTCOME). Only the scenario suite runs: it is the suite
that uses the mock's state.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.lab import Lab

pytestmark = pytest.mark.integration
POPCERT = Path(sys.executable).parent / "popcert"
RUN_LIMIT_S = 400


def _config(lab: Lab, folder: Path, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "run.yaml"
    config.write_text(yaml.safe_dump({
        "system": {"name": name, "organisation": "tests", "level": "district"},
        "target": {"base_url": lab.city.base_url, "ca_bundle": str(lab.city.ca_path)},
        "npdb": {"start": False, "state_dir": str(lab.npdb.state_dir)},
        "suites": ["scenario"], "quick": True, "seed": 0,
        "output_dir": str(folder / "runs")}), encoding="utf-8")
    return config


def _start(config: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([str(POPCERT), "certify", "-c", str(config)], text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True,
                            env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200"})


def _finish(process: subprocess.Popen[str], folder: Path) -> dict[str, Any]:
    try:
        stdout, stderr = process.communicate(timeout=RUN_LIMIT_S)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate(timeout=30)
    reports = list(folder.glob("runs/*/*/report.json"))
    assert reports, f"no report (exit {process.returncode}):\n{stdout[-3000:]}\n{stderr[-3000:]}"
    return json.loads(reports[0].read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def _scenario_results(report: dict[str, Any]) -> dict[str, str]:
    return {r["check"]["id"]: f"{r['status']}: {r.get('summary', '')}"
            for r in report["results"] if r["check"]["suite"] == "scenario"}


def test_parallel_runs_and_a_rerun_against_one_mock_all_pass(tmp_path: Path) -> None:
    with Lab(tmp_path / "lab", population=100_000) as lab:
        first, second = tmp_path / "first", tmp_path / "second"
        running = [(_start(_config(lab, first, "Parallel A")), first),
                   (_start(_config(lab, second, "Parallel B")), second)]
        reports = [_finish(process, folder) for process, folder in running]
        rerun = tmp_path / "rerun"
        reports.append(_finish(_start(_config(lab, rerun, "Re-run")), rerun))
        entries = lab.npdb.admin.audit()
    for report in reports:
        results = _scenario_results(report)
        not_passed = {k: v for k, v in results.items() if not v.startswith("pass")}
        assert results and not not_passed, (report["system"]["name"], not_passed)
    assert len({r["verdict"]["status"] for r in reports}) == 1  # the same verdict, three times
    # Every run judged its own people: the three runs' calls name disjoint sets of citizens.
    by_run: dict[str, set[str]] = {}
    for entry in entries:
        if entry.run_id and entry.personal_ids:
            by_run.setdefault(entry.run_id, set()).update(entry.personal_ids)
    assert len(by_run) == 3, sorted(by_run)
    runs = list(by_run.values())
    assert not (runs[0] & runs[1]) and not (runs[0] & runs[2]) and not (runs[1] & runs[2])
