"""Timing verdicts on a saturated host (issue 24): never FAIL the vendor for popcert's saturation.

Each round certifies the reference city system twice with ``--quick`` (the engine as
``popcert demo --quick`` runs it: mock NPDB and city system on 127.0.0.1), both while CPU hogs
(busy loops, 2 × the cores) saturate the host:

- the compliant reference system must never FAIL: CERTIFIED, or NOT CERTIFIED marked
  inconclusive (no check `fail`);
- the same system with ``conformance.slow_every_response`` (600 ms added to every successful
  response) must FAIL: NOT CERTIFIED with a timing check `fail`, not inconclusive.

The baseline, measured in the same run before the hogs start: popcert's calibration round trip
(harness/health.py), printed with its inflation under the hogs as a ratio. The hogs are
``harness.processes`` children: they die with the bench on any exit (parent-death signal,
SIGTERM/SIGINT handlers, ``finally``).

    .venv/bin/python bench/saturation.py [--rounds 1] [--hogs-per-core 2] [--level district]

Last line: ``saturation: reference never FAIL N/N, slow SUT FAIL N/N``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from harness import processes
from harness.engine import Engine
from harness.health_monitor import calibrate, cores
from harness.lab import Lab, city_options_for

SLOW_DEFECT = "conformance.slow_every_response"
TIMING_CHECKS = ("LOAD-THROUGHPUT", "LOAD-LATENCY-P95", "LOAD-LATENCY-P99", "LOAD-ERROR-RATE",
                 "CONF-LATENCY-BUDGET", "AUTH-RATE-LIMIT")


def start_hogs(count: int) -> list[processes.Child]:
    """Busy loops, one process each, that popcert's own process-group rules stop on any exit."""
    return [processes.spawn([sys.executable, "-c", "while True: pass"], name="cpu-hog")
            for _ in range(count)]


def certify(workdir: Path, defects: frozenset[str], level: str,
            suites: list[str] | None) -> dict[str, Any]:
    with Lab(workdir / "lab", defects, city_options=city_options_for(level)) as lab:
        config = lab.run_config(suites=suites, quick=True, level=level,
                                output_dir=workdir / "runs")
        outcome = Engine(config, npdb=lab.npdb, command="bench/saturation.py").run()
    return outcome.report


def classify(report: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """FAIL (a check failed), INCONCLUSIVE, CERTIFIED, or NOT CERTIFIED (errors, no failure)."""
    verdict = report["verdict"]
    results = {r["check"]["id"]: r for r in report["results"]}
    timing = {cid: results[cid]["status"] for cid in TIMING_CHECKS if cid in results}
    if any(r["status"] == "fail" for r in results.values()):
        return "FAIL", timing
    if verdict.get("inconclusive"):
        return "INCONCLUSIVE", timing
    return verdict["status"], timing


def describe(label: str, report: dict[str, Any], seconds: float) -> str:
    kind, timing = classify(report)
    results = {r["check"]["id"]: r for r in report["results"]}
    failed = sorted(cid for cid, r in results.items() if r["status"] == "fail")
    errors = sorted(cid for cid, r in results.items() if r["status"] == "error")
    p95 = results.get("LOAD-LATENCY-P95", {}).get("measurements", {}).get("p95_ms")
    health = next((e["data"]["health"] for r in results.values() for e in r["evidence"]
                   if isinstance(e.get("data"), dict) and "health" in e["data"]
                   and r["check"]["id"] == "LOAD-LATENCY-P95"), None)
    lines = [f"  {label}: {kind} (verdict {report['verdict']['status']}) in {seconds:.0f} s; "
             f"LOAD p95 {p95} ms; timing checks "
             + ", ".join(f"{cid} {status}" for cid, status in timing.items()),
             f"    failed: {', '.join(failed) or 'none'}; error: {', '.join(errors) or 'none'}"]
    if health is not None:
        lines.append(f"    load run health: {health['describe']}")
    p95_summary = results.get("LOAD-LATENCY-P95", {}).get("summary")
    if p95_summary:
        lines.append(f"    LOAD-LATENCY-P95: {' '.join(p95_summary.split())[:400]}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=1, help="reference + slow SUT pairs")
    parser.add_argument("--hogs-per-core", type=int, default=2)
    parser.add_argument("--level", default="district")
    parser.add_argument("--suite", action="append", default=None,
                        help="only these suites (default: every suite, as certify runs)")
    args = parser.parse_args()
    processes.exit_on_signals()  # SIGTERM/SIGINT/SIGHUP: stop the hogs and the lab, then exit
    n_cores = cores()
    baseline = calibrate()
    print(f"baseline (no hogs): calibration round trip p50 {baseline.p50_ms} ms, "
          f"{baseline.inflation_p90}× its CPU time at p90 ({baseline.rounds} rounds)")
    reference_ok = slow_failed = 0
    hogs: list[processes.Child] = []
    try:
        hogs = start_hogs(args.hogs_per_core * n_cores)
        time.sleep(1.0)
        loaded = calibrate()
        print(f"with {len(hogs)} CPU hogs on {n_cores} cores: calibration round trip p50 "
              f"{loaded.p50_ms} ms, {loaded.inflation_p90}× at p90; ratio to the baseline "
              f"p50 {loaded.p50_ms / max(baseline.p50_ms, 1e-3):.1f}, inflation p90 "
              f"{loaded.inflation_p90 / max(baseline.inflation_p90, 1e-3):.1f}")
        for index in range(args.rounds):
            print(f"round {index + 1}/{args.rounds}", flush=True)
            for label, defects in (("reference", frozenset()),
                                   ("slow SUT", frozenset({SLOW_DEFECT}))):
                with tempfile.TemporaryDirectory(prefix="popcert-saturation-") as tmp:
                    started = time.monotonic()
                    report = certify(Path(tmp), defects, args.level, args.suite)
                    print(describe(label, report, time.monotonic() - started), flush=True)
                kind, timing = classify(report)
                if label == "reference":
                    reference_ok += kind != "FAIL"
                else:
                    slow_failed += kind == "FAIL" and "fail" in timing.values()
    finally:
        for hog in hogs:
            hog.stop()
    print(f"saturation: reference never FAIL {reference_ok}/{args.rounds}, "
          f"slow SUT FAIL {slow_failed}/{args.rounds}")
    return 0 if reference_ok == slow_failed == args.rounds else 1


if __name__ == "__main__":
    raise SystemExit(main())
