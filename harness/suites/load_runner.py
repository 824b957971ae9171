"""Run locust headless in subprocesses, bounded in time, and read its CSV output.

The harness never imports locust (gevent monkey-patches the process); it spawns
``python -m locust`` alone or as one master plus N workers on 127.0.0.1, in a process group of
its own, and a watchdog kills the whole group if the run outlives its bound.
"""

from __future__ import annotations

import math
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from harness import resources
from harness.suites.load_stats import LoadStats, LoadStatsError, read_run

REPO_ROOT = Path(__file__).resolve().parents[2]
LOCUSTFILE = resources.load_dir() / "locustfile.py"
PLAN_ENV = "POPCERT_LOAD_PLAN"


@dataclass(frozen=True)
class LocustJob:
    """One locust run: who to hit, how hard, for how long, and where the CSVs go."""

    host: str
    plan_path: Path
    out_dir: Path
    users: int
    spawn_rate: float
    duration_s: float
    max_requests: int
    workers: int = 0  # 0: a single local process; N: a master and N worker processes
    locustfile: Path = LOCUSTFILE
    stop_timeout_s: float = 2.0
    # Beyond duration: process start-up, workers connecting, stop timeout, CSV flush.
    grace_s: float = 25.0

    @property
    def csv_prefix(self) -> Path:
        return self.out_dir / "locust"

    @property
    def wall_clock_bound_s(self) -> float:
        return self.duration_s + self.stop_timeout_s + self.grace_s


@dataclass(frozen=True)
class LoadOutcome:
    """What a locust run produced; ``stats`` is None when it produced nothing readable."""

    job: LocustJob
    stats: LoadStats | None
    command: str
    returncode: int | None
    elapsed_s: float
    timed_out: bool = False
    error: str | None = None
    log_tail: str = ""
    worker_commands: tuple[str, ...] = field(default_factory=tuple)

    @property
    def workers(self) -> int:
        return self.job.workers

    @property
    def request_bound_hit(self) -> bool:
        return bool(self.stats and self.stats.aggregated.requests >= self.job.max_requests > 0)


def free_port() -> int:
    """A free TCP port on 127.0.0.1 for the locust master (workers must be told the number)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def per_process_request_bound(max_requests: int, workers: int) -> int:
    """Each load process enforces its share of the run's request bound."""
    return math.ceil(max_requests / max(1, workers)) if max_requests > 0 else 0


def _base_command(job: LocustJob) -> list[str]:
    return [sys.executable, "-m", "locust", "-f", str(job.locustfile), "--loglevel", "WARNING"]


def master_command(job: LocustJob, master_port: int | None = None) -> list[str]:
    command = _base_command(job) + [
        "--headless", "--users", str(job.users), "--spawn-rate", f"{job.spawn_rate:g}",
        "--run-time", f"{max(1, round(job.duration_s))}s", "--host", job.host,
        "--csv", str(job.csv_prefix), "--csv-full-history", "--only-summary",

        "--stop-timeout", f"{job.stop_timeout_s:g}", "--exit-code-on-error", "0"]
    if job.workers:
        command += ["--master", "--master-bind-host", "127.0.0.1",
                    "--master-bind-port", str(master_port), "--expect-workers", str(job.workers),
                    "--expect-workers-max-wait", "20"]
    return command


def worker_command(job: LocustJob, master_port: int) -> list[str]:
    return _base_command(job) + ["--worker", "--master-host", "127.0.0.1",
                                 "--master-port", str(master_port)]


def _kill_group(pgid: int) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        if sig == signal.SIGTERM:
            time.sleep(1.0)


def run_locust(job: LocustJob) -> LoadOutcome:
    """Run the job to completion or to its wall-clock bound; never leaves a process behind."""
    job.out_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, PLAN_ENV: str(job.plan_path), "PYTHONUNBUFFERED": "1"}
    port = free_port() if job.workers else None
    command = master_command(job, port)
    log_path = job.out_dir / "locust.log"
    started = time.monotonic()
    timed_out = False
    with log_path.open("wb") as log:
        master = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, process_group=0,
                                  cwd=str(REPO_ROOT))
        workers: list[subprocess.Popen[bytes]] = []
        worker_cmds: list[str] = []
        try:
            if port is not None:
                for _ in range(job.workers):
                    wcmd = worker_command(job, port)
                    worker_cmds.append(shlex.join(wcmd))
                    # Same process group as the master: one killpg stops the whole run.
                    workers.append(subprocess.Popen(
                        wcmd, env=env, stdout=log, stderr=subprocess.STDOUT,
                        stdin=subprocess.DEVNULL, process_group=master.pid, cwd=str(REPO_ROOT)))
            try:
                returncode: int | None = master.wait(timeout=job.wall_clock_bound_s)
            except subprocess.TimeoutExpired:
                timed_out = True
                returncode = None
            for worker in workers:
                try:
                    worker.wait(timeout=0 if timed_out else 10)
                except subprocess.TimeoutExpired:
                    pass
        finally:
            _kill_group(master.pid)
            for proc in (master, *workers):
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL was sent
                    pass
    elapsed = time.monotonic() - started
    log_tail = log_path.read_text(encoding="utf-8", errors="replace")[-3000:]
    stats: LoadStats | None = None
    error: str | None = None
    try:
        stats = read_run(job.csv_prefix)
    except LoadStatsError as unreadable:
        error = str(unreadable)
    if timed_out:
        error = (f"locust ran past its wall-clock bound of {job.wall_clock_bound_s:.0f} s "
                 "and was killed") + (f"; {error}" if error else "")
    return LoadOutcome(job, stats, shlex.join(command), returncode, elapsed, timed_out, error,
                       log_tail, tuple(worker_cmds))
