"""How many requests/s the load driver (locust FastHttpUser) reaches, as a ratio to wrk.

Target: a raw-asyncio "ok" endpoint (load/stub_sut.py) in its own process on 127.0.0.1, the
same one for wrk and locust within one run. Locust runs through the suite's own runner
(harness.suites.load_runner), with 1 process and with a master + 2 workers.

    .venv/bin/python bench/load_driver.py [--seconds 5] [--users 50]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness.suites.load_runner import LocustJob, run_locust
from harness.suites.load_stats import sustained_rate

REPO = Path(__file__).resolve().parents[1]


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


def wrk_rps(url: str, seconds: int, connections: int) -> float:
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", f"{url}/health"],
                         capture_output=True, text=True, timeout=seconds + 30, check=True).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not match:
        raise RuntimeError(f"cannot read wrk output:\n{out}")
    return float(match.group(1))


def locust_rps(url: str, seconds: int, users: int, workers: int, tmp: Path) -> float:
    job = LocustJob(host=url, plan_path=tmp / "unused.json", out_dir=tmp / f"locust-{workers}",
                    users=users, spawn_rate=users, duration_s=seconds,
                    max_requests=10_000_000, workers=workers,
                    locustfile=REPO / "load" / "bench_locustfile.py")
    outcome = run_locust(job)
    if outcome.stats is None:
        raise RuntimeError(f"locust produced no statistics: {outcome.error}\n{outcome.log_tail}")
    return sustained_rate(outcome.stats.history, users).rps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--users", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        server, url = start_endpoint(tmp)
        try:
            wrk = wrk_rps(url, args.seconds, args.users)
            one = locust_rps(url, args.seconds, args.users, 0, tmp)
            two = locust_rps(url, args.seconds, args.users, 2, tmp)
            wrk_after = wrk_rps(url, args.seconds, args.users)  # the endpoint did not degrade
        finally:
            server.kill()
            server.wait(5)
    reference = max(wrk, wrk_after)
    print(f"endpoint: raw asyncio stub (load/stub_sut.py) at {url}/health, {args.users} connections")
    print(f"wrk -t2 -c{args.users}        : {wrk:10.0f} req/s (again after: {wrk_after:.0f})")
    print(f"locust, 1 process      : {one:10.0f} req/s  ratio {one / reference:.2f}")
    print(f"locust, master+2 workers: {two:10.0f} req/s  ratio {two / reference:.2f}"
          f"  (target ≥ 0.50)")


if __name__ == "__main__":
    main()
