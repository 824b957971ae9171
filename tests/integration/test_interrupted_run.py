"""An interrupted certification still leaves a report a person can read: INCOMPLETE, never CERTIFIED,
and nothing popcert started keeps running: no fuzzer hitting the SUT, no mock NPDB, no token file.

`popcert certify` runs as a subprocess against a SUT on 127.0.0.1 that hangs every request, so the
TLS scan keeps the run busy after the firewall suite has written its results; then we signal it.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.config import REPO_ROOT
from tests.conftest import Behaviour, LoopbackServer, hang
from tests.process_tree import (
    descendants_named,
    kill_all,
    running,
    still_running,
    wait_for,
)

POPCERT = Path(sys.executable).parent / "popcert"
RULESET = REPO_ROOT / "examples" / "city_system" / "firewall" / "ruleset.iptables"


def write_config(folder: Path, base_url: str, npdb_state: Path, **overrides: Any) -> Path:
    """run.yaml for a firewall + TLS run; ``overrides`` replace top-level sections."""
    raw: dict[str, Any] = {
        "system": {"name": "Hanging SUT", "organisation": "tests", "level": "district"},
        "target": {"base_url": base_url, "timeout_s": 2},
        "suites": ["firewall", "tls"],
        "npdb": {"start": False, "state_dir": str(npdb_state)},
        "firewall": {"ruleset": str(RULESET)},
        "output_dir": str(folder / "runs"),
        # Long limits: only the signal may end this run early.
        "limits": {"check_s": 600, "default_suite_s": 1200},
        **overrides,
    }
    path = folder / "run.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


@pytest.fixture
def busy_run(tmp_path: Path, loopback_server: Callable[[Behaviour], LoopbackServer],
             mock_npdb: Any) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    """A certify process that has written at least one result and is stuck in the TLS scan."""
    sut = loopback_server(hang)
    config = write_config(tmp_path, f"https://127.0.0.1:{sut.port}", mock_npdb.state_dir)
    process = subprocess.Popen([str(POPCERT), "certify", "-c", str(config)], text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               start_new_session=True, env={**os.environ, "NO_COLOR": "1"})
    try:
        run_dir = wait_for_first_result(tmp_path / "runs", process)
        yield process, run_dir
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.communicate(timeout=30)


def wait_for_first_result(output_dir: Path, process: subprocess.Popen[str],
                          limit_s: float = 60) -> Path:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        for results in output_dir.glob("*/*/results.jsonl"):
            if results.read_text(encoding="utf-8").count("\n") >= 1:
                return results.parent
        if process.poll() is not None:
            raise AssertionError(f"popcert exited early ({process.returncode}): "
                                 f"{process.communicate()[1][-2000:]}")
        time.sleep(0.1)
    raise AssertionError("no result was written within the time limit")


def read_report(run_dir: Path) -> dict[str, Any]:
    return json.loads((run_dir / "report.json").read_text(encoding="utf-8"))


def test_sigterm_leaves_an_incomplete_report(busy_run: tuple[subprocess.Popen[str], Path]) -> None:
    process, run_dir = busy_run
    time.sleep(1.0)  # let the firewall suite finish and the TLS scan start hanging
    assert process.poll() is None, "the run should still be busy with the hanging SUT"
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 1, stderr[-2000:]
    assert "Traceback" not in stderr
    report = read_report(run_dir)
    assert report["run"]["complete"] is False and report["run"]["interrupted"]
    assert report["verdict"]["status"] == "INCOMPLETE"
    assert "INCOMPLETE" in (run_dir / "report.html").read_text(encoding="utf-8")
    # What did finish is kept: the firewall results are in the report and in results.jsonl.
    finished = {r["check"]["id"] for r in report["results"]}
    assert "FW-DEFAULT-DENY" in finished
    assert not any(check_id.startswith("TLS-") for check_id in finished)
    logged = (run_dir / "results.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(logged) == len(report["results"])


def test_sigkill_then_popcert_report_rebuilds_an_incomplete_report(
        busy_run: tuple[subprocess.Popen[str], Path]) -> None:
    process, run_dir = busy_run
    os.killpg(process.pid, signal.SIGKILL)
    process.communicate(timeout=30)
    logged = [json.loads(line) for line in
              (run_dir / "results.jsonl").read_text(encoding="utf-8").splitlines()]
    # Remove what the engine wrote between suites, so only the rebuild can produce a report.
    for name in ("report.json", "report.html", "junit.xml", "report.sarif"):
        (run_dir / name).unlink(missing_ok=True)
    rebuilt = subprocess.run([str(POPCERT), "report", str(run_dir)], capture_output=True,
                             text=True, timeout=120, check=False)
    assert rebuilt.returncode == 0, rebuilt.stderr[-2000:]
    assert "report.json" in rebuilt.stdout
    report = read_report(run_dir)
    assert report["run"]["complete"] is False
    assert report["verdict"]["status"] == "INCOMPLETE"
    assert [r["check"]["id"] for r in report["results"]] == [r["check"]["id"] for r in logged]
    assert "INCOMPLETE" in (run_dir / "report.html").read_text(encoding="utf-8")
    assert (run_dir / "junit.xml").is_file()


def test_report_survives_a_half_written_last_line(
        busy_run: tuple[subprocess.Popen[str], Path]) -> None:
    process, run_dir = busy_run
    os.killpg(process.pid, signal.SIGKILL)
    process.communicate(timeout=30)
    results = run_dir / "results.jsonl"
    complete_lines = results.read_text(encoding="utf-8").count("\n")
    with results.open("a", encoding="utf-8") as log:
        log.write('{"check": {"id": "TLS-CERT-CHAIN", "suite": "tls"')  # killed mid-write
    rebuilt = subprocess.run([str(POPCERT), "report", str(run_dir)], capture_output=True,
                             text=True, timeout=120, check=False)
    assert rebuilt.returncode == 0, rebuilt.stderr[-2000:]
    assert len(read_report(run_dir)["results"]) == complete_lines


# --- children: nothing popcert started outlives it ---------------------------------------------

JWT = re.compile(rb"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")


class CountingSUT:
    """Answers every request slowly with ``{}`` and counts them, so a fuzzer stays busy with it."""

    def __init__(self) -> None:
        sut = self
        self.requests = 0

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                sut.requests += 1
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(min(length, 1_000_000))
                time.sleep(0.2)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _answer

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def start_certify(config: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([str(POPCERT), "certify", "-c", str(config)], text=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True, env={**os.environ, "NO_COLOR": "1"})


def interrupt_busy_suite(tmp_path: Path, npdb_state: Path, suite: str, child_word: str,
                         before_signal: Callable[[], None] = lambda: None) -> None:
    """Run one suite against a CountingSUT and SIGTERM popcert once its children (command line
    containing ``child_word``) reach the SUT: popcert exits 1, the children end, the SUT hears
    nothing more and no file of the run holds a bearer token."""
    sut = CountingSUT()
    popcert = start_certify(write_config(tmp_path, sut.url, npdb_state, suites=[suite], seed=1))
    children: list[int] = []
    try:
        children = wait_for(lambda: descendants_named(popcert.pid, child_word), 90)
        assert children, f"{child_word} never started"
        assert wait_for(lambda: sut.requests >= 5, 90), f"{child_word} never reached the SUT"
        before_signal()
        popcert.send_signal(signal.SIGTERM)
        _, stderr = popcert.communicate(timeout=120)
        assert popcert.returncode == 1, stderr[-2000:]
        assert wait_for(lambda: not still_running(children), 10), \
            f"{child_word} outlived popcert"
        heard = sut.requests
        time.sleep(3)
        assert sut.requests == heard, f"the SUT got {sut.requests - heard} more requests"
        leaked = [str(f) for f in (tmp_path / "runs").rglob("*")
                  if f.is_file() and JWT.search(f.read_bytes())]
        assert leaked == []
    finally:
        kill_all([popcert.pid, *children])
        sut.stop()


def test_sigterm_stops_schemathesis_and_the_sut_hears_nothing_more(
        tmp_path: Path, mock_npdb: Any) -> None:
    # The portal token schemathesis used is in no file popcert left behind (checked there too).
    interrupt_busy_suite(tmp_path, mock_npdb.state_dir, "conformance", "schemathesis.toml")
    [run_dir] = (tmp_path / "runs").glob("*/*/")
    assert read_report(run_dir)["verdict"]["status"] == "INCOMPLETE"


def test_sigkill_of_popcert_leaves_no_mock_npdb_running(
        tmp_path: Path, loopback_server: Callable[[Behaviour], LoopbackServer]) -> None:
    sut = loopback_server(hang)
    state = tmp_path / "npdb"
    config = write_config(tmp_path, f"https://127.0.0.1:{sut.port}", state, suites=["tls"],
                          npdb={"start": True, "state_dir": str(state), "population": 1000})
    popcert = start_certify(config)
    mock_pid = 0
    try:
        def mock_started() -> int:
            try:
                return int(json.loads((state / "ready.json").read_text())["pid"])
            except (OSError, ValueError, KeyError):
                return 0

        mock_pid = wait_for(mock_started, 120)
        assert mock_pid and running(mock_pid), "the mock NPDB never started"
        assert popcert.poll() is None
        os.kill(popcert.pid, signal.SIGKILL)  # popcert alone: no handler, no atexit can run
        popcert.communicate(timeout=30)
        assert wait_for(lambda: not running(mock_pid), 10), "the mock NPDB outlived popcert"
    finally:
        kill_all([popcert.pid, mock_pid] if mock_pid else [popcert.pid])


def test_sigkill_of_demo_leaves_neither_mock_nor_city_system(tmp_path: Path) -> None:
    """`popcert demo`'s code path (run_demo, harness.lab) in a folder of the test's own."""
    workdir = tmp_path / "demo"
    script = (
        "from pathlib import Path\n"
        "from rich.console import Console\n"
        "from harness.processes import exit_on_signals\n"
        "from harness.runner import run_demo\n"
        "exit_on_signals()\n"
        "run_demo(defects=frozenset(), quick=True, suites=['tls'], level='district',\n"
        f"         console=Console(stderr=True), workdir=Path({str(workdir)!r}))\n")
    demo = subprocess.Popen([sys.executable, "-c", script], cwd=REPO_ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    servers: list[int] = []
    try:
        def started() -> list[int]:
            pids = []
            for ready in (workdir / "npdb" / "ready.json", workdir / "city" / "city-ready.json"):
                try:
                    pids.append(int(json.loads(ready.read_text())["pid"]))
                except (OSError, ValueError, KeyError):
                    return []
            return pids

        servers = wait_for(started, 180)
        assert len(servers) == 2 and all(running(p) for p in servers), "the lab never started"
        os.kill(demo.pid, signal.SIGKILL)
        demo.wait(timeout=30)
        assert wait_for(lambda: not still_running(servers), 10), still_running(servers)
    finally:
        kill_all([demo.pid, *servers])


def test_sigterm_during_load_stops_locust_and_deletes_the_token_plan(
        tmp_path: Path, mock_npdb: Any) -> None:
    plans: list[Path] = []

    def plan_on_disk() -> None:
        plans.extend((tmp_path / "runs").rglob("plan.json"))
        assert plans, "the load plan (bearer tokens) was expected on disk during the run"

    interrupt_busy_suite(tmp_path, mock_npdb.state_dir, "load", "locust", plan_on_disk)
    assert not any(plan.exists() for plan in plans)
