"""Benchmark: CPU seconds of the schemathesis child in a quick conformance run on the reference
system, with Hypothesis's Unicode tables warm (the user cache popcert points the child at) against
cold (a fresh storage directory, as every run had before: the child's working folder is new each
time), measured in the same run, in interleaved rounds on one lab.

Only the child is counted: the lab's servers are reaped when the lab stops, after the rounds.

    .venv/bin/python bench/conformance_child.py [--rounds 2]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import tempfile
from pathlib import Path

from harness.engine import Engine
from harness.lab import Lab, city_options_for
from harness.resources import user_cache_dir
from harness.suites.conformance.runner import HYPOTHESIS_STORAGE_ENV


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _child_cpu(lab: Lab, out: Path, storage: Path) -> tuple[float, int]:
    """CPU seconds of the conformance run's child with ``storage`` as Hypothesis's directory."""
    os.environ[HYPOTHESIS_STORAGE_ENV] = str(storage)
    config = lab.run_config(suites=["conformance"], quick=True, level="district", output_dir=out)
    before = _children_cpu()
    outcome = Engine(config, npdb=lab.npdb).run()
    spent = _children_cpu() - before
    passed = sum(r["status"] == "pass" for r in outcome.report["results"]
                 if r["check"]["suite"] == "conformance")
    return spent, passed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    warm_dir = user_cache_dir() / "hypothesis"
    cold: list[float] = []
    warm: list[float] = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        with Lab(tmp / "lab", city_options=city_options_for("district")) as lab:
            _child_cpu(lab, tmp / "runs-0", warm_dir)  # fills the user cache if it is empty
            for round_no in range(1, args.rounds + 1):
                spent, passed = _child_cpu(lab, tmp / f"cold-{round_no}", tmp / f"fresh-{round_no}")
                cold.append(spent)
                print(f"round {round_no}: cold {spent:.2f} CPU-s ({passed} checks passed)")
                spent, passed = _child_cpu(lab, tmp / f"warm-{round_no}", warm_dir)
                warm.append(spent)
                print(f"round {round_no}: warm {spent:.2f} CPU-s ({passed} checks passed)")
    cold_s, warm_s = statistics.median(cold), statistics.median(warm)
    print(f"schemathesis child, quick run: cold tables {cold_s:.2f} CPU-s, warm {warm_s:.2f} CPU-s")
    print(f"ratio warm / cold: {warm_s / cold_s:.2f}")


if __name__ == "__main__":
    main()
