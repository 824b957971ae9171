"""A hostile SUT never crashes the harness: every check ends with a status, errors carry evidence.

Three full `popcert certify` runs (tls, auth, conformance) against 127.0.0.1 servers that hang,
reset every connection, or answer with bytes that are not HTTP. The runs go in parallel (they
mostly wait on timeouts) so the file stays near a minute.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.checks import Status, checks_for_suite
from harness.suites import load_all_suites
from tests.conftest import LoopbackServer, garbage, hang, reset

POPCERT = Path(sys.executable).parent / "popcert"
SUITES = ["tls", "auth", "conformance"]
BEHAVIOURS = {"hang": hang, "reset": reset, "garbage": garbage}
RUN_LIMIT_S = 150  # a run that is still going after this is itself a failure


@dataclass
class HostileRun:
    returncode: int
    stdout: str
    stderr: str
    report: dict[str, Any] | None
    connections: int


@pytest.fixture(scope="module")
def hostile_runs(tmp_path_factory: pytest.TempPathFactory, mock_npdb: Any) -> Iterator[dict[str, HostileRun]]:
    servers = {kind: LoopbackServer(behaviour) for kind, behaviour in BEHAVIOURS.items()}
    processes: dict[str, tuple[subprocess.Popen[str], Path]] = {}
    try:
        for kind, server in servers.items():
            folder = tmp_path_factory.mktemp(f"hostile-{kind}")
            config = folder / "run.yaml"
            config.write_text(yaml.safe_dump({
                "system": {"name": f"Hostile {kind}", "organisation": "tests", "level": "district"},
                "target": {"base_url": server.url, "timeout_s": 2},
                "suites": SUITES, "quick": True,
                "npdb": {"start": False, "state_dir": str(mock_npdb.state_dir)},
                "output_dir": str(folder / "runs"),
                "limits": {"check_s": 10, "default_suite_s": 60}}), encoding="utf-8")
            processes[kind] = (subprocess.Popen(
                [str(POPCERT), "certify", "-c", str(config)], text=True, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, start_new_session=True,
                env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}), folder)
        runs: dict[str, HostileRun] = {}
        for kind, (process, folder) in processes.items():
            try:
                stdout, stderr = process.communicate(timeout=RUN_LIMIT_S)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                stdout, stderr = process.communicate(timeout=30)
                stderr += f"\n[test] killed: still running after {RUN_LIMIT_S} s"
            reports = list(folder.glob("runs/*/*/report.json"))
            report = json.loads(reports[0].read_text(encoding="utf-8")) if reports else None
            runs[kind] = HostileRun(process.returncode, stdout, stderr, report,
                                    servers[kind].connections)
        yield runs
    finally:
        for process, _ in processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.communicate(timeout=30)
        for server in servers.values():
            server.stop()


def expected_ids() -> set[str]:
    load_all_suites()
    return {c.id for suite in SUITES for c in checks_for_suite(suite)}


@pytest.mark.parametrize("kind", sorted(BEHAVIOURS))
def test_the_harness_does_not_crash(kind: str, hostile_runs: dict[str, HostileRun]) -> None:
    run = hostile_runs[kind]
    assert "Traceback" not in run.stderr and "internal error" not in run.stderr, run.stderr[-3000:]
    assert run.returncode == 1, f"exit {run.returncode}: {run.stderr[-3000:]}"
    assert run.stdout.strip().endswith("verdict: NOT CERTIFIED")
    assert run.connections > 0, "the hostile server was never contacted: the test proves nothing"


@pytest.mark.parametrize("kind", sorted(BEHAVIOURS))
def test_every_check_ends_with_a_status(kind: str, hostile_runs: dict[str, HostileRun]) -> None:
    report = hostile_runs[kind].report
    assert report is not None and report["run"]["complete"] is True
    results = {r["check"]["id"]: r for r in report["results"] if r["check"]["suite"] in SUITES}
    assert set(results) == expected_ids()
    assert all(r["status"] in {s.value for s in Status} for r in results.values())
    # A server that never speaks HTTP gives no evidence of compliance: nothing may pass.
    assert [i for i, r in results.items() if r["status"] == "pass"] == []


@pytest.mark.parametrize("kind", sorted(BEHAVIOURS))
def test_errors_carry_evidence(kind: str, hostile_runs: dict[str, HostileRun]) -> None:
    report = hostile_runs[kind].report
    assert report is not None
    errors = [r for r in report["results"] if r["status"] == "error"]
    assert errors, "a hostile SUT must produce errors"
    assert [r["check"]["id"] for r in errors if not r["evidence"] or not r["summary"]] == []
    assert report["verdict"]["status"] == "NOT CERTIFIED"
