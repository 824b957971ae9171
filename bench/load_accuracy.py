"""Are popcert's load latencies true? Reported vs true p50/p95/p99 against a stalling SUT.

Part 2 runs ``popcert load capacity``'s search against a stub that serves exactly C req/s and
queues the rest (``--capacities``, default 800) and prints the rate found against C.

The endpoint (bench/load/stub_sut.py) answers every dossier call after ``--delay-ms`` and, for
``--stall-s`` of every ``--every-s`` seconds (the first in the middle of the first period after
traffic starts), holds every call until the stall ends. The
*true* latency of a request intended for time t is therefore known exactly: delay + the rest of
the stall at t. popcert's locustfile runs its open-model timetable against it and reports
latency from each request's intended send time; the truth is computed from the model at every
intended send time of the run (traced by the locustfile), never from measured latencies. The same
run also drives stock locust closed-loop (``constant_throughput``, latency from the actual
send) at the same rate, the baseline that coordinated omission makes under-report.

    .venv/bin/python bench/load_accuracy.py [--seconds 30] [--users 4] [--rps 20]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BENCH_LOAD = REPO / "bench" / "load"  # the stub SUT and stock locustfiles (not shipped)
sys.path.insert(0, str(BENCH_LOAD))

from stub_sut import StubSUT

from harness.suites.load.latency import CorrectedLatency
from harness.suites.load.plan import dossier_pool, write_plan
from harness.suites.load.runner import LocustJob, run_locust
from harness.sut.dossiers import synthetic_people

TOLERANCE = 0.05
QUANTILES = (("p50", 0.50), ("p95", 0.95), ("p99", 0.99))


def true_percentiles(sut: StubSUT, intended: list[float]) -> dict[str, float]:
    """Percentiles of the model's latency at every intended send time of the run (ms)."""
    samples = sorted(sut.true_latency_s(wall) * 1000 for wall in intended)
    return {name: samples[max(0, -(-int(q * len(samples) * 1000) // 1000) - 1)]
            for name, q in QUANTILES}


def stall_from_first_request(sut: StubSUT, stall_s: float, lead_s: float) -> threading.Thread:
    """Switch the stalls on once traffic starts, the first one ``lead_s`` into the run: both
    runs then see their stalls at the same points, none cut by the end of the run."""
    def arm() -> None:
        start = time.monotonic()
        while sut.requests == 0 and time.monotonic() - start < 60:
            time.sleep(0.01)
        sut.epoch = time.time() + lead_s
        sut.stall_s = stall_s
    thread = threading.Thread(target=arm, daemon=True)
    thread.start()
    return thread


def popcert_run(url: str, args: argparse.Namespace,
                tmp: Path) -> tuple[CorrectedLatency, list[float]]:
    plan = write_plan(tmp / "plan.json", tokens=["bench-token"],
                      dossiers=dossier_pool(synthetic_people(20, 1), 50, 1),
                      user_rps=args.rps / args.users, max_requests_per_process=0,
                      verify_tls=False, allowed_hosts=["127.0.0.1"])
    job = LocustJob(host=url, plan_path=plan, out_dir=tmp / "popcert", users=args.users,
                    spawn_rate=args.users * 5, duration_s=args.seconds, max_requests=0)
    os.environ["POPCERT_LOAD_TRACE"] = "1"  # the intended send times, for the truth
    try:
        outcome = run_locust(job)
    finally:
        del os.environ["POPCERT_LOAD_TRACE"]
    if outcome.latency is None:
        raise RuntimeError(f"popcert's locustfile wrote no latency: {outcome.error}\n"
                           f"{outcome.log_tail}")
    trace = Path(f"{job.csv_prefix}_intended.json")
    return outcome.latency, json.loads(trace.read_text(encoding="utf-8"))


def stock_run(url: str, args: argparse.Namespace, tmp: Path) -> dict[str, float]:
    os.environ["BENCH_USER_RPS"] = f"{args.rps / args.users:g}"
    job = LocustJob(host=url, plan_path=tmp / "unused.json", out_dir=tmp / "stock",
                    users=args.users, spawn_rate=args.users * 5, duration_s=args.seconds,
                    max_requests=0, locustfile=BENCH_LOAD / "bench_closed_locustfile.py")
    outcome = run_locust(job)
    if outcome.stats is None:
        raise RuntimeError(f"stock locust produced no statistics: {outcome.error}")
    percentiles = outcome.stats.aggregated.percentiles_ms
    return {"p50": percentiles["50%"], "p95": percentiles["95%"], "p99": percentiles["99%"]}


def capacity_run(capacity: float, tmp: Path) -> tuple[float, str, int]:
    """``popcert load capacity``'s search against a stub serving exactly ``capacity`` req/s."""
    from harness.config import config_from_dict
    from harness.net import ScopeGuard
    from harness.profiles import load_profile
    from harness.run_context import RunContext
    from harness.suites.load.capacity import capacity_search
    from harness.suites.load.context import thresholds_for

    limits = {"users": 10, "spawn_rate": 10, "duration_s": 5, "target_rps": 10, "p95_ms": 300,
              "p99_ms": 800, "max_error_rate": 0.01, "max_requests": 1_000_000}
    with StubSUT(capacity_rps=capacity) as sut:
        config = config_from_dict({
            "system": {"name": "capacity bench", "organisation": "popcert", "level": "district"},
            "target": {"base_url": sut.base_url}, "suites": ["load"],
            "scope": {"allowed_hosts": ["127.0.0.1"]}, "npdb": {"start": False}}, tmp)
        district = load_profile("district")
        profile = district.model_copy(update={"thresholds": {**district.thresholds,
                                                             "load": limits}})
        run = RunContext(config=config, profile=profile, run_dir=tmp, scope=ScopeGuard(
            ["127.0.0.1"]), workdir=tmp, npdb=None, seed=1,
            extras={"load_tokens": ["bench-a", "bench-b"]})
        result = capacity_search(run, thresholds_for(run), tmp / f"capacity-{capacity:g}",
                                 start_rps=capacity * 0.4, factor=2.0, step_duration_s=5,
                                 max_steps=12)
    return result.sustainable_rps, result.confidence, len(result.steps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--users", type=int, default=4)
    parser.add_argument("--rps", type=float, default=20.0)  # the district profile target
    parser.add_argument("--delay-ms", type=float, default=100.0)
    parser.add_argument("--stall-s", type=float, default=1.0)
    parser.add_argument("--every-s", type=float, default=10.0)
    parser.add_argument("--capacities", default="800",
                        help="enforced capacities (req/s) to search for, comma-separated; 50 "
                             "and 200 are also in tests/suites/test_load.py ('' to skip)")
    args = parser.parse_args()
    lead_s = args.every_s / 2 - args.stall_s / 2
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        with StubSUT(delay_s=args.delay_ms / 1000, stall_every_s=args.every_s) as sut:
            stall_from_first_request(sut, args.stall_s, lead_s)
            latency, intended = popcert_run(sut.base_url, args, tmp)
            truth = true_percentiles(sut, intended)
            stub_late_ms = sut.mean_late_ms
        with StubSUT(delay_s=args.delay_ms / 1000, stall_every_s=args.every_s) as sut:
            stall_from_first_request(sut, args.stall_s, lead_s)
            stock = stock_run(sut.base_url, args, tmp)
    reported = {"p50": latency.aggregated.p50_ms, "p95": latency.aggregated.p95_ms,
                "p99": latency.aggregated.p99_ms}
    print(f"endpoint: stub answering dossier calls after {args.delay_ms:g} ms, stalled "
          f"{args.stall_s:g} s every {args.every_s:g} s; {args.users} users, {args.rps:g} req/s "
          f"offered, {args.seconds} s, {latency.aggregated.requests} requests")
    print(f"{'':34s} {'p50 ms':>9s} {'p95 ms':>9s} {'p99 ms':>9s}")
    rows = (("true (from the intended timetable)", truth),
            ("popcert (from intended send time)", reported),
            ("stock locust closed loop", stock))
    for name, figures in rows:
        print(f"{name:34s} " + " ".join(f"{figures[q]:9.1f}" for q, _ in QUANTILES))
    ratios = {q: reported[q] / truth[q] for q, _ in QUANTILES}
    print(f"{'popcert / true':34s} " + " ".join(f"{ratios[q]:9.3f}" for q, _ in QUANTILES))
    print(f"{'stock locust / true':34s} "
          + " ".join(f"{stock[q] / truth[q]:9.3f}" for q, _ in QUANTILES))
    print(f"popcert's driver sent requests {latency.send_lag_p50_ms:.1f} ms (p50) / "
          f"{latency.send_lag_p99_ms:.1f} ms (p99) after their intended time (its own CPU "
          "starvation, counted in its latencies)")
    print(f"the stub answered {stub_late_ms:.1f} ms later than its model on average (a busy "
          f"machine wakes it late); load average {os.getloadavg()[0]:.1f} on "
          f"{len(os.sched_getaffinity(0))} cores")
    held = all(abs(r - 1) <= TOLERANCE for r in ratios.values())
    for capacity in (float(c) for c in args.capacities.split(",") if c.strip()):
        with tempfile.TemporaryDirectory() as tmp_name:
            found, confidence, steps = capacity_run(capacity, Path(tmp_name))
        within = abs(found / capacity - 1) <= TOLERANCE
        held = held and within
        print(f"capacity: stub serving exactly {capacity:g} req/s -> popcert load capacity "
              f"reports {found:.1f} req/s ({found / capacity:.3f} of true, {steps} steps; "
              f"{confidence})")
    print("RESULT", "PASS" if held else "MISS",
          f"(every popcert/true within 1 ± {TOLERANCE:g})")


if __name__ == "__main__":
    main()
