"""Run locust headless in subprocesses, bounded in time, and read its CSV output.

The harness never imports locust (gevent monkey-patches the process); it spawns
``python -m locust`` alone or as one master plus N local workers on 127.0.0.1 (and awaits
external workers on other hosts when asked), each a ``harness.processes`` child, and kills them
all if the run outlives its bound or the harness exits.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness import resources
from harness.health import HealthFigures
from harness.health_monitor import HealthMonitor
from harness.live import POLL_S
from harness.suites.load.latency import CorrectedLatency, latency_path, read_latency
from harness.suites.load.progress import load_progress
from harness.suites.load.stats import LoadStats, LoadStatsError, read_run

REPO_ROOT = Path(__file__).resolve().parents[3]
LOCUSTFILE = resources.load_dir() / "locustfile.py"
PLAN_ENV = "POPCERT_LOAD_PLAN"
JOIN_ENV = "POPCERT_LOAD_JOIN"
# Address-space cap of every locust process (as schemathesis has): an endless or bomb body can
# take one down with MemoryError, never the machine.
LOCUST_MEMORY_LIMIT = 2 * 1024**3
LOG = logging.getLogger("popcert.load")


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
    workers_external: int = 0  # workers on other hosts (`popcert load worker`) the master awaits
    master_bind_host: str = "127.0.0.1"
    master_port: int = 0  # 0: a free port
    join_code: str | None = None
    external_wait_s: float = 120.0
    locustfile: Path = LOCUSTFILE
    stop_timeout_s: float = 2.0
    # Beyond duration: process start-up, workers connecting, stop timeout, CSV flush.
    grace_s: float = 25.0

    @property
    def csv_prefix(self) -> Path:
        return self.out_dir / "locust"

    @property
    def distributed(self) -> bool:
        return bool(self.workers or self.workers_external)

    @property
    def wall_clock_bound_s(self) -> float:
        waiting = self.external_wait_s if self.workers_external else 0.0
        return self.duration_s + self.stop_timeout_s + self.grace_s + waiting


@dataclass(frozen=True)
class LoadOutcome:
    """What a locust run produced; ``stats`` is None when it produced nothing readable."""

    job: LocustJob
    stats: LoadStats | None
    command: str
    returncode: int | None
    timed_out: bool = False
    error: str | None = None
    log_tail: str = ""
    # Latency from intended send times (load/locustfile.py); None when it was not written.
    latency: CorrectedLatency | None = None
    # The host and the local locust processes during the run (harness/health.py).
    health: HealthFigures | None = None

    @property
    def workers(self) -> int:
        return self.job.workers + self.job.workers_external

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
    if job.distributed:
        wait = job.external_wait_s if job.workers_external else 20
        command += ["--master", "--master-bind-host", job.master_bind_host,
                    "--master-bind-port", str(master_port),
                    "--expect-workers", str(job.workers + job.workers_external),
                    "--expect-workers-max-wait", f"{wait:g}"]
    return command


def worker_command(job: LocustJob, master_port: int) -> list[str]:
    return _base_command(job) + ["--worker", "--master-host", "127.0.0.1",
                                 "--master-port", str(master_port)]


def _write_join_file(job: LocustJob, port: int) -> Path:
    """How an operator starts a worker on another host (0600: it holds the join code)."""
    path = job.out_dir / "join.json"
    host = job.master_bind_host if job.master_bind_host not in ("0.0.0.0", "::") \
        else socket.gethostname()
    command = f"popcert load worker --master {host}:{port}"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump({"master": f"{host}:{port}", "join": job.join_code, "command": command,
                   "env": {JOIN_ENV: job.join_code}}, out)
    LOG.warning("load: waiting up to %.0f s for %d external worker(s): run `%s` with %s set "
                "(the code is in %s)", job.external_wait_s, job.workers_external, command,
                JOIN_ENV, path)
    return path


def _wait_reporting(master: subprocess.Popen[bytes], job: LocustJob,
                    on_progress: Callable[[str], None] | None) -> int:
    """Wait for the master up to the job's bound (TimeoutExpired past it), passing locust's
    statistics on every POLL_S."""
    started = time.monotonic()
    while True:
        left = job.wall_clock_bound_s - (time.monotonic() - started)
        try:
            return master.wait(timeout=max(0.0, min(POLL_S, left)))
        except subprocess.TimeoutExpired:
            if left <= POLL_S:
                raise
            if on_progress is not None:
                on_progress(load_progress(Path(f"{job.csv_prefix}_stats_history.csv"),
                                          elapsed_s=time.monotonic() - started,
                                          duration_s=job.duration_s))


def run_locust(job: LocustJob, on_progress: Callable[[str], None] | None = None) -> LoadOutcome:
    """Run the job to completion or to its wall-clock bound; never leaves a process behind.
    ``on_progress`` receives locust's live statistics (users, req/s, p95, time left).

    Every locust process is a ``harness.processes`` child: its own process group, SIGKILLed if
    popcert dies, address space capped, stopped with its group on any exit of this function.
    """
    from harness import processes

    job.out_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, PLAN_ENV: str(job.plan_path), "PYTHONUNBUFFERED": "1"}
    env.pop(JOIN_ENV, None)
    port = (job.master_port or free_port()) if job.distributed else None
    command = master_command(job, port)
    log_path = job.out_dir / "locust.log"
    latency_path(job.csv_prefix).unlink(missing_ok=True)
    join_file: Path | None = None
    timed_out = False
    children: list[processes.Child] = []
    # Calibration before locust starts and after it stops; CPU of each local locust process.
    monitor = HealthMonitor("load run", lambda: [(c.name, c.pid) for c in children])
    with log_path.open("wb") as log, monitor:
        try:
            master = processes.spawn(command, name="locust-master", env=env, stdout=log,
                                     stderr=subprocess.STDOUT, cwd=str(REPO_ROOT),
                                     memory_limit_bytes=LOCUST_MEMORY_LIMIT)
            children.append(master)
            if port is not None:
                if job.workers_external:
                    join_file = processes.remove_on_exit(_write_join_file(job, port))
                for _ in range(job.workers):
                    children.append(processes.spawn(
                        worker_command(job, port), name="locust-worker", env=env, stdout=log,
                        stderr=subprocess.STDOUT, cwd=str(REPO_ROOT),
                        memory_limit_bytes=LOCUST_MEMORY_LIMIT))
            try:
                returncode: int | None = _wait_reporting(master, job, on_progress)
            except subprocess.TimeoutExpired:
                timed_out = True
                returncode = None
            for worker in children[1:]:
                try:
                    worker.wait(timeout=0 if timed_out else 10)
                except subprocess.TimeoutExpired:
                    pass
        finally:
            for child in children:
                child.stop()
            if join_file is not None:
                join_file.unlink(missing_ok=True)
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
    return LoadOutcome(job, stats, shlex.join(command), returncode, timed_out, error,
                       log_tail, read_latency(latency_path(job.csv_prefix)), monitor.figures)


def worker_on_another_host(master: str, join_code: str, *, locustfile: Path = LOCUSTFILE,
                           log: Path | None = None) -> int:
    """``popcert load worker``: join a run whose master is at ``master`` (HOST:PORT).

    The worker holds no plan file: the locustfile asks the master for the plan over locust's
    channel with ``join_code`` (the master answers once per worker, up to
    ``load.workers_external``), and keeps its TLS material in a private temporary folder.
    Returns locust's exit code.
    """
    from harness import processes

    host, sep, port = master.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"--master {master!r}: expected HOST:PORT, e.g. 10.0.0.5:5557")
    env = {**os.environ, JOIN_ENV: join_code, "PYTHONUNBUFFERED": "1"}
    env.pop(PLAN_ENV, None)
    argv = [sys.executable, "-m", "locust", "-f", str(locustfile), "--worker",
            "--master-host", host.strip("[]"), "--master-port", port, "--loglevel", "INFO"]
    output = log.open("wb") if log else None
    try:
        child = processes.spawn(argv, name="locust-worker", env=env, stdout=output,
                                stderr=subprocess.STDOUT if output else None,
                                cwd=str(REPO_ROOT), memory_limit_bytes=LOCUST_MEMORY_LIMIT)
        try:
            return child.wait()
        finally:
            child.stop()
    finally:
        if output:
            output.close()
