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
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.hostile.local_cases import stop_once

TARGET_S = 2.0
STATES = ("idle", "keep-alive", "in-flight")


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
