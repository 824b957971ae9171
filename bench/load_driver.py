"""How many requests/s the load driver (locust FastHttpUser) reaches, as a ratio to wrk.

Target: a raw-asyncio "ok" endpoint (load/stub_sut.py) in its own process on 127.0.0.1, the
same one for wrk and locust within one run. Locust runs through the suite's own runner
(harness.suites.load_runner), with 1 process and with a master + 2 workers.

Besides the rates it prints the CPU each driver spends per request in its steady state (all its
processes, sampled from /proc) and the endpoint's, because on a small machine the driver, its workers and the
endpoint share the same cores: the ceiling line says how many requests/s the locust setup could
reach if it had every core of this machine to itself and the endpoint.

    .venv/bin/python bench/load_driver.py [--seconds 5] [--users 50]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from _proc_cpu import cpu_seconds  # bench/ is on sys.path when a benchmark runs

from harness.suites.load_runner import LocustJob, run_locust
from harness.suites.load_stats import sustained_rate

REPO = Path(__file__).resolve().parents[1]
TARGET = 0.5


@dataclass(frozen=True)
class Measured:
    rps: float
    driver_cores: float  # CPU seconds per second, all of the driver's processes, steady state
    endpoint_cores: float

    @property
    def driver_us(self) -> float:
        return self.driver_cores / self.rps * 1e6

    @property
    def endpoint_us(self) -> float:
        return self.endpoint_cores / self.rps * 1e6


def _cpu_s(pid: int) -> float:
    try:
        return cpu_seconds(pid)
    except (FileNotFoundError, ProcessLookupError):  # ended between listing and reading
        return 0.0


def _cpu_of_commands(marker: str) -> dict[int, float]:
    """CPU seconds so far of each process whose command line contains ``marker``."""
    found: dict[int, float] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                cmdline = Path(entry.path, "cmdline").read_bytes()
            except OSError:
                continue
            if marker.encode() in cmdline:
                found[int(entry.name)] = _cpu_s(int(entry.name))
    return found


class CpuSampler(threading.Thread):
    """Samples the driver's processes' and the endpoint's CPU every 0.5 s while a run goes on,
    so that start-up (imports, spawning users) and wind-down stay out of the per-request
    figures."""

    def __init__(self, marker: str, endpoint_pid: int) -> None:
        super().__init__(daemon=True)
        self.marker, self.endpoint_pid = marker, endpoint_pid
        self.samples: list[tuple[float, dict[int, float], float]] = []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.5):
            self.samples.append((time.monotonic(), _cpu_of_commands(self.marker),
                                 _cpu_s(self.endpoint_pid)))

    def steady_cores(self, skip_s: float) -> tuple[float, float]:
        """(driver, endpoint) cores in use from ``skip_s`` after the start to the last sample
        in which every driver process of the window's start still ran."""
        first = next((i for i, s in enumerate(self.samples)
                      if s[0] >= self.samples[0][0] + skip_s and s[1]), None)
        if first is None:
            raise RuntimeError("run too short to sample its steady state; use --seconds >= 5")
        t0, driver0, endpoint0 = self.samples[first]
        last = max(i for i, s in enumerate(self.samples) if s[1].keys() >= driver0.keys())
        t1, driver1, endpoint1 = self.samples[last]
        if t1 - t0 < 1.0:
            raise RuntimeError("run too short to sample its steady state; use --seconds >= 5")
        driver = sum(driver1[pid] - cpu for pid, cpu in driver0.items())
        return driver / (t1 - t0), (endpoint1 - endpoint0) / (t1 - t0)


def start_endpoint(tmp: Path) -> tuple[subprocess.Popen[bytes], str]:
    url_file = tmp / "url"
    server = subprocess.Popen([sys.executable, str(REPO / "load" / "stub_sut.py"), str(url_file)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        if url_file.exists() and url_file.read_text():
            return server, url_file.read_text().strip()
        time.sleep(0.1)
    server.kill()
    raise RuntimeError("endpoint did not start")


def wrk(url: str, seconds: int, connections: int, endpoint_pid: int) -> Measured:
    sampler = CpuSampler("wrk\0-t2", endpoint_pid)
    sampler.start()
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", f"{url}/health"],
                         capture_output=True, text=True, timeout=seconds + 30, check=True).stdout
    sampler.done.set()
    sampler.join()
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not rate:
        raise RuntimeError(f"cannot read wrk output:\n{out}")
    return Measured(float(rate.group(1)), *sampler.steady_cores(skip_s=0.5))


def locust(url: str, seconds: int, users: int, workers: int, tmp: Path,
           endpoint_pid: int) -> Measured:
    locustfile = REPO / "load" / "bench_locustfile.py"
    job = LocustJob(host=url, plan_path=tmp / "unused.json", out_dir=tmp / f"locust-{workers}",
                    users=users, spawn_rate=users, duration_s=seconds,
                    max_requests=10_000_000, workers=workers, locustfile=locustfile)
    sampler = CpuSampler(str(locustfile), endpoint_pid)
    sampler.start()
    outcome = run_locust(job)
    sampler.done.set()
    sampler.join()
    if outcome.stats is None:
        raise RuntimeError(f"locust produced no statistics: {outcome.error}\n{outcome.log_tail}")
    # Skip the start: the processes import locust and the workers connect before users run.
    return Measured(sustained_rate(outcome.stats.history, users).rps,
                    *sampler.steady_cores(skip_s=2.5))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--users", type=int, default=50)
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0))
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        server, url = start_endpoint(tmp)
        try:
            before = wrk(url, args.seconds, args.users, server.pid)
            one = locust(url, args.seconds, args.users, 0, tmp, server.pid)
            two = locust(url, args.seconds, args.users, 2, tmp, server.pid)
            after = wrk(url, args.seconds, args.users, server.pid)  # the endpoint did not degrade
        finally:
            server.kill()
            server.wait(5)
    reference = max(before, after, key=lambda m: m.rps)
    print(f"endpoint: raw asyncio stub (load/stub_sut.py) at {url}/health, {args.users} connections,"
          f" {cores} cores")
    print(f"{'driver':26s} {'req/s':>9s} {'ratio':>6s} {'driver CPU/req':>15s}"
          f" {'endpoint CPU/req':>17s}")
    for name, m in ((f"wrk -t2 -c{args.users}", before), ("wrk again, after", after),
                    ("locust, 1 process", one), ("locust, master+2 workers", two)):
        print(f"{name:26s} {m.rps:9.0f} {m.rps / reference.rps:6.2f} {m.driver_us:12.1f} us"
              f" {m.endpoint_us:14.1f} us")
    # Best case for locust here: every core busy, shared by its processes and the endpoint.
    ceiling = cores / ((two.driver_us + two.endpoint_us) / 1e6)
    needed_us = cores / (TARGET * reference.rps) * 1e6 - two.endpoint_us
    print(f"ratio with 2 workers: {two.rps / reference.rps:.2f} (target >= {TARGET})")
    print(f"ceiling with {cores} cores fully used: {ceiling:.0f} req/s = "
          f"{ceiling / reference.rps:.2f} of wrk; the target needs <= {needed_us:.1f} us of"
          f" locust CPU per request, it spends {two.driver_us:.1f} us")
    print("RESULT", "PASS" if two.rps / reference.rps >= TARGET else "MISS")


if __name__ == "__main__":
    main()
