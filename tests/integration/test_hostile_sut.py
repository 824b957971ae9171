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
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.checks import Status
from harness.registry import default_registry
from harness.suites.conformance.runner import FuzzOutcome, FuzzPlan, run_schemathesis
from harness.suites.tls.scan import TlsScanError, TlsTarget, scan
from tests.conftest import LoopbackServer, garbage, hang, reset
from tests.hostile import servers as hostile

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
    return {c.id for suite in SUITES for c in default_registry().for_suite(suite)}


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


# --- issue 12: schemathesis and sslyze against tests/hostile servers ----------------------------
# schemathesis runs in its own subprocess with popcert's guard (harness/suites/conformance/guard.py);
# one tiny operation and a handful of examples keep each run to seconds.

TOY_SPEC = """
openapi: 3.1.0
info: {title: toy, version: "1"}
servers: [{url: /connection/v1}]
paths:
  /dossiers:
    post:
      operationId: submit
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [personal_id, full_name]
              properties:
                personal_id: {type: string, pattern: "^[0-9]{12}$"}
                full_name: {type: string}
      responses:
        "201": {description: created, content: {application/json: {schema: {type: object}}}}
        "400": {description: invalid}
"""


def fuzz_hostile(sut: hostile.HostileServer, workdir: Path, **overrides: Any) -> FuzzOutcome:
    spec = workdir / "spec.yaml"
    workdir.mkdir(parents=True, exist_ok=True)
    spec.write_text(TOY_SPEC, encoding="utf-8")
    settings: dict[str, Any] = {
        "spec_path": spec, "base_url": sut.url + "/connection/v1", "token": "toy-token",
        "workdir": workdir / "st", "seed": 12, "max_examples": 3, "request_timeout_s": 2.0,
        "wall_timeout_s": 90.0, "ca_bundle": sut.ca_path,
        "phases": ("examples", "coverage", "fuzzing")}
    settings.update(overrides)
    return run_schemathesis(FuzzPlan(**settings))


@pytest.mark.parametrize("server", ["redirect-302-out-of-scope", "redirect-307-out-of-scope",
                                    "https-to-http-redirect", "redirect-same-origin"])
def test_schemathesis_follows_no_redirect(server: str, tmp_path: Path) -> None:
    with hostile.CATALOGUE[server]() as sut:
        outcome = fuzz_hostile(sut, tmp_path)
        time.sleep(0.3)
        assert sut.hits >= 3, "schemathesis never reached the SUT: the test proves nothing"
        followed = [r.path for r in sut.requests if r.path.startswith("/moved")]
        elsewhere = sut.elsewhere.requests if sut.elsewhere is not None else []
    assert outcome.exit_code in (0, 1) and not outcome.timed_out, outcome.stderr_tail
    assert elsewhere == [] and followed == []


@pytest.mark.parametrize("server", ["gzip-gzip-bomb", "endless-body"])
def test_schemathesis_refuses_bombs_within_bounded_memory(server: str, tmp_path: Path) -> None:
    hostile.bomb_body("gzip, gzip", 1 << 30)  # built before measuring: the server is not popcert
    with hostile.CATALOGUE[server]() as sut, hostile.PeakRss(os.getpid()) as rss:
        outcome = fuzz_hostile(sut, tmp_path)
    assert sut.hits >= 1 and not outcome.timed_out
    assert any("over 1048576 bytes" in p.message for p in outcome.problems), outcome.problems
    # Without the guard the child inflates the 1 GiB bomb until its address-space cap (MemoryError).
    assert rss.peak_mib < 1024, f"popcert + schemathesis peaked at {rss.peak_mib:.0f} MiB"


def test_schemathesis_requests_end_at_their_deadline(tmp_path: Path) -> None:
    # A byte every 2 s never trips the 3 s read timeout; each request must still end at 3 s.
    # Without the deadline each request takes ~160 s and the 300 s wall kill ends the run.
    with hostile.slowloris(interval_s=2.0) as sut:
        outcome = fuzz_hostile(sut, tmp_path, max_examples=1, phases=("fuzzing",),
                               request_timeout_s=3.0, wall_timeout_s=300.0)
        hits = sut.hits
    assert not outcome.timed_out, "schemathesis had to be killed: no per-request deadline"
    assert hits >= 2, "after the first request timed out, the next ones must still be sent"
    assert any("timed out" in p.message.lower() for p in outcome.problems), outcome.problems


def test_sslyze_speaks_only_tls_to_the_declared_endpoint() -> None:
    with hostile.https_downgrade() as sut:
        result = scan(TlsTarget("127.0.0.1", sut.port, ca_bundle=sut.ca_path))
        time.sleep(0.3)
        assert sut.connections > 0, "sslyze never connected: the test proves nothing"
        # No HTTP request at all (so no redirect to follow), nothing anywhere else.
        assert sut.hits == 0 and sut.elsewhere is not None and sut.elsewhere.hits == 0
    assert result.scan_result is not None


def test_sslyze_gives_up_on_a_silent_endpoint() -> None:
    # Without the preflight sslyze tries every protocol version with retries (about a minute).
    with hostile.hang() as sut, pytest.raises(TlsScanError, match="did not complete a TLS"):
        scan(TlsTarget("127.0.0.1", sut.port))


def test_sslyze_scan_has_a_total_deadline() -> None:
    with hostile.https_downgrade() as sut, pytest.raises(TlsScanError, match="did not finish"):
        scan(TlsTarget("127.0.0.1", sut.port, ca_bundle=sut.ca_path), deadline_s=0.05)


GUARDED_CLIENT = """
import gc, json, sys
import harness.suites.conformance.guard  # patches this child process only
import requests
from tests.hostile import servers as hostile

def rss_mib():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024

session, kept = requests.Session(), []
with hostile.compression_bomb("gzip, gzip", 1 << 30) as sut:
    session.get(sut.url, timeout=5, stream=True).close()
    before = rss_mib()
    for _ in range(100):
        try:
            session.get(sut.url, timeout=5).content
        except requests.RequestException as refused:
            kept.append(refused)  # as schemathesis keeps every error, traceback included
    gc.collect()
    print(json.dumps({"growth_mib": rss_mib() - before, "kept": len(kept),
                      "message": str(kept[-1])}))
"""


def test_refused_bombs_are_not_pinned_by_kept_errors() -> None:
    # schemathesis keeps each error with its traceback; urllib3's chained decoder under it held
    # ~1 MiB per refused `gzip, gzip` response: 1,000 requests took the child past 1 GiB.
    root = str(Path(__file__).resolve().parents[2])
    done = subprocess.run([sys.executable, "-c", GUARDED_CLIENT], check=False, cwd=root,
                          capture_output=True, text=True, timeout=180,
                          env={**os.environ, "PYTHONPATH": root})
    assert done.returncode == 0, done.stderr[-2000:]
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    assert outcome["kept"] == 100 and "over 1048576 bytes" in outcome["message"]
    assert outcome["growth_mib"] < 40, outcome
