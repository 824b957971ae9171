"""Is popcert's load driver lean? Its locustfile against a minimal stock locustfile, same run.

Target: a raw-asyncio endpoint (bench/load/stub_sut.py) in its own process on 127.0.0.1, the same
one for every driver within one run. Stock locust runs bench/load/bench_locustfile.py (a
FastHttpUser doing GET /health with no think time); popcert runs its own load/locustfile.py
(dossier bodies, token rotation, open-model timetable, bounded bodies, corrected latency) unpaced
with one request in flight per user, like the stock user. Both through the suite's runner
(harness.suites.load.runner), with 1 process and with a master + 2 workers. The figure is ``popcert
driver / stock locust`` per setup: req/s, and CPU per request (stock / popcert, so 1.0 means as
lean as stock; target >= 0.9). It also runs stock locust sending popcert's portal mix
(bench/load/bench_mix_locustfile.py: same tasks, headers and bodies, closed loop) in both setups
and prints popcert against it, for information: the traffic's own cost apart from the driver's. wrk
on the same endpoint, before and after, is information too. ``--rounds N`` repeats the interleaved
locust runs and judges the median ratio (this machine is shared; one run can be off by 25%).

Besides the rates it prints the CPU each driver spends per request in its steady state (all its
processes, sampled from /proc) and the endpoint's, because on a small machine the driver, its
workers and the endpoint share the same cores: req/s moves with the machine's load, CPU per request
much less.

    .venv/bin/python bench/load_driver.py [--seconds 5] [--users 50] [--rounds 1]
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
from _requires import missing_tool

from harness.suites.load.plan import dossier_pool, write_plan
from harness.suites.load.runner import LOCUSTFILE, LocustJob, run_locust
from harness.suites.load.stats import sustained_rate
from harness.sut.dossiers import synthetic_people

REPO = Path(__file__).resolve().parents[1]
BENCH_LOAD = REPO / "bench" / "load"  # the stub SUT and stock locustfiles (not shipped)
TARGET = 0.9


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


def _descendants(root: int) -> set[int]:
    """``root``'s live descendants, from the parent ids in /proc/<pid>/stat."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                stat = Path(entry.path, "stat").read_text()
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(entry.name))
    found: set[int] = set()
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _cpu_of_commands(marker: str) -> dict[int, float]:
    """CPU seconds so far of each process of this benchmark whose command line contains
    ``marker`` (only its own descendants: other jobs on a shared machine may run the same
    locustfile)."""
    found: dict[int, float] = {}
    for pid in _descendants(os.getpid()):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if marker.encode() in cmdline:
            found[pid] = _cpu_s(pid)
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
        started = next((s[0] for s in self.samples if s[1]), None)  # its first process
        first = None if started is None else next(
            (i for i, s in enumerate(self.samples) if s[0] >= started + skip_s and s[1]), None)
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
    server = subprocess.Popen([sys.executable, str(BENCH_LOAD / "stub_sut.py"), str(url_file)],
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
           endpoint_pid: int, popcert: bool = False, mix: bool = False) -> Measured:
    locustfile = (LOCUSTFILE if popcert else BENCH_LOAD / "bench_mix_locustfile.py" if mix
                  else BENCH_LOAD / "bench_locustfile.py")
    plan = tmp / "plan.json"
    if popcert or mix:  # unpaced, one request in flight per user: the stock user's shape
        write_plan(plan, tokens=["bench-a", "bench-b"],
                   dossiers=dossier_pool(synthetic_people(50, 1), 300, 1), user_rps=1e6,
                   max_requests_per_process=0, verify_tls=False, max_in_flight=1,
                   allowed_hosts=["127.0.0.1"])
    name = f"{'popcert' if popcert else 'mix' if mix else 'stock'}-{workers}"
    job = LocustJob(host=url, plan_path=plan, out_dir=tmp / name,
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


_NAMES = {"stock": "stock locust", "popcert": "popcert locustfile",
          "mix": "stock locust, portal mix"}
_SETUPS = {0: "1 process", 2: "master+2 workers"}


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def _spread(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{_median(values):.2f} (median of {len(values)}: {min(values):.2f}-{max(values):.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=1,
                        help="repeat the interleaved locust runs; ratios are the median of rounds")
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0))
    runs: dict[tuple[int, str, int], Measured] = {}  # (round, driver, workers)
    wrk_runs: list[Measured] = []
    # wrk is information only: without it the judged figures (popcert / stock locust) still run.
    has_wrk = missing_tool("wrk", "wrk", "bench/load_driver.py: the wrk rows") is None
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        server, url = start_endpoint(tmp)
        try:
            if has_wrk:
                wrk_runs.append(wrk(url, args.seconds, args.users, server.pid))
            for round_ in range(args.rounds):
                for workers in _SETUPS:
                    # Interleaved, so a change in the machine's load hits every driver alike.
                    for driver in ("stock", "popcert", "mix"):
                        runs[round_, driver, workers] = locust(
                            url, args.seconds, args.users, workers, tmp, server.pid,
                            popcert=driver == "popcert", mix=driver == "mix")
            if has_wrk:
                wrk_runs.append(wrk(url, args.seconds, args.users, server.pid))
        finally:
            server.kill()
            server.wait(5)
    reference = max(wrk_runs, key=lambda m: m.rps) if wrk_runs else runs[0, "stock", 0]
    against = "of wrk" if wrk_runs else "of stk"
    print(f"endpoint: raw asyncio stub (bench/load/stub_sut.py) at {url}, {args.users} users/"
          f"connections, {cores} cores, {args.seconds} s per run, {args.rounds} round(s)")
    print(f"{'driver':44s} {'req/s':>9s} {against:>7s} {'driver CPU/req':>15s}"
          f" {'endpoint CPU/req':>17s}")

    def row(label: str, m: Measured) -> None:
        print(f"{label:44s} {m.rps:9.0f} {m.rps / reference.rps:7.2f} {m.driver_us:12.1f} us"
              f" {m.endpoint_us:14.1f} us")

    if wrk_runs:
        row(f"wrk -t2 -c{args.users} (information)", wrk_runs[0])
    for (round_, driver, workers), m in runs.items():
        label = f"{_NAMES[driver]}, {_SETUPS[workers]}"
        row(f"{label}{f' [{round_ + 1}]' if args.rounds > 1 else ''}", m)
    if wrk_runs:
        row("wrk again, after", wrk_runs[1])
    held = True
    for workers, setup in _SETUPS.items():
        for baseline, what in (("stock", "stock locust (minimal GET)"),
                               ("mix", "stock locust sending the same portal mix")):
            rps = [runs[r, "popcert", workers].rps / runs[r, baseline, workers].rps
                   for r in range(args.rounds)]
            lean = [runs[r, baseline, workers].driver_us / runs[r, "popcert", workers].driver_us
                    for r in range(args.rounds)]
            judged = baseline == "stock"
            if judged:
                held = held and _median(lean) >= TARGET
            print(f"popcert driver / {what}, {setup}: {_spread(rps)} req/s, {_spread(lean)} CPU "
                  f"per request ({f'target >= {TARGET}' if judged else 'information'})")
    print("RESULT", "PASS" if held else "MISS")


if __name__ == "__main__":
    main()
