"""Benchmark: how long the mock NPDB takes to stop on SIGTERM (issue 24 item 9: over 5 s in 3 of 23
stops; an idle TLS keep-alive connection held a stop 30 s, the TLS close_notify wait).

Per start, SIGTERM is sent and the time until the process has exited is taken, in three states:
``idle`` (no connection: the baseline, measured in the same run), ``keep-alive`` (an idle pooled
TLS connection on the data port and an HTTP one on the admin port) and ``in-flight`` (a request
held by a 60 s timeout fault). Prints median and max per state, the ratio of each median to the
baseline's, and how many stops took over 2 s; exit 1 if any did.

    .venv/bin/python bench/mock_stop.py [--starts 20]
"""

from __future__ import annotations

import argparse
import os
import signal
import ssl
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mocks.population_db.launcher import MockNPDB

TARGET_S = 2.0
STATES = ("idle", "keep-alive", "in-flight")


def stop_once(state: str, folder: Path) -> tuple[float, int | None, str]:
    """Seconds from SIGTERM to exit, the exit code, and the mock's log of this start."""
    npdb = MockNPDB(folder / "npdb", population=1000).start()
    context = ssl.create_default_context(cafile=str(npdb.ca_path))
    clients: list[httpx.Client] = []
    held: threading.Thread | None = None
    if state in ("keep-alive", "in-flight"):
        clients = [httpx.Client(verify=context, timeout=10), httpx.Client(timeout=10)]
        clients[0].get(npdb.jwks_url)
        clients[1].get(f"{npdb.admin_url}/admin/health")
    if state == "in-flight":
        httpx.post(f"{npdb.admin_url}/admin/faults", json={
            "endpoint": "/.well-known/jwks.json", "kind": "timeout", "latency_ms": 60_000})

        def call() -> None:
            try:
                httpx.get(npdb.jwks_url, verify=context, timeout=90)
            except httpx.HTTPError:
                pass

        held = threading.Thread(target=call, daemon=True)
        held.start()
        time.sleep(0.5)
    child = npdb._proc
    assert child is not None
    started = time.monotonic()
    os.kill(child.pid, signal.SIGTERM)
    try:
        child.wait(timeout=60)
    finally:
        took = time.monotonic() - started
        npdb.stop()  # SIGKILL if it is still there
        for client in clients:
            client.close()
    if held is not None:
        held.join(timeout=5)
    log = (folder / "npdb" / "mock.log").read_text(encoding="utf-8", errors="replace")
    return took, child.returncode, log


def measure(starts: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {state: [] for state in STATES}
    for _ in range(starts):
        for state in STATES:  # interleaved: a busy moment of the host hits every state alike
            with tempfile.TemporaryDirectory(prefix="popcert-mock-stop-") as folder:
                took, code, log = stop_once(state, Path(folder))
            times[state].append(took)
            if took > TARGET_S or code != 0:
                waits = [line for line in log.splitlines() if line.startswith("mock NPDB: stop")]
                print(f"  {state}: {took:.2f} s, exit {code}; log: {waits}")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--starts", type=int, default=20)
    args = parser.parse_args()
    times = measure(args.starts)
    baseline = statistics.median(times["idle"])
    print(f"{'state':12} {'starts':>6} {'median s':>9} {'max s':>6} {'x idle':>7} {'> 2 s':>5}")
    for state in STATES:
        values = times[state]
        print(f"{state:12} {len(values):6d} {statistics.median(values):9.2f} {max(values):6.2f} "
              f"{statistics.median(values) / baseline:7.2f} {sum(v > TARGET_S for v in values):5d}")
    slow = sum(v > TARGET_S for values in times.values() for v in values)
    total = sum(len(values) for values in times.values())
    print(f"mock stop: {total - slow}/{total} stops within {TARGET_S:.0f} s, longest "
          f"{max(max(v) for v in times.values()):.2f} s")
    sys.exit(1 if slow else 0)


if __name__ == "__main__":
    main()
