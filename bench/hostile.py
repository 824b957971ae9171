"""Benchmark: `popcert certify --quick` against each hostile SUT of tests/hostile/servers.py.

Per case: wall time and peak RSS of the whole popcert process tree (popcert and every descendant,
sampled from /proc every 50 ms), and whether the run held: it ended by itself (exit 0 or 1,
within 10 min), wrote a complete report, stayed under 1 GiB, and nothing reached the redirect
target. Baseline in the same run: the same certification against a benign stub (200 ``{}`` to
everything); each case's wall time is printed as a ratio to it. Cases run a few at a time (they
mostly wait on timeouts); one mock NPDB serves every run. Then issue 24's local cases
(tests/hostile/local_cases.py: certificate text, a symlinked run folder, hostile run.yaml files,
npdb ports, disk full under the mock, the mock's SIGTERM stop) run one after the other; each held
or not, and they count in the last line.

    .venv/bin/python bench/hostile.py [--cases slowloris,hang] [--parallel 4] [--suites tls,auth]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.hostile import servers as hostile
from tests.hostile.local_cases import LOCAL_CATALOGUE, LocalOutcome

POPCERT = Path(sys.executable).parent / "popcert"
RUN_LIMIT_S = 600.0  # issue 12: a --quick run against any hostile SUT ends within 10 minutes
RSS_LIMIT_MIB = 1024.0
BASELINE = "benign-stub"


@dataclass
class CaseResult:
    name: str
    wall_s: float
    peak_mib: float
    exit_code: int | None
    verdict: str
    complete: bool
    leaked: int  # requests that reached the redirect target
    problems: list[str]
    at_peak: dict[str, int]

    @property
    def held(self) -> bool:
        return not self.problems


def run_case(name: str, factory: Any, npdb_state: Path, folder: Path,
             suites: list[str] | None) -> CaseResult:
    with factory() as sut:
        config: dict[str, Any] = {
            "system": {"name": f"Hostile {name}", "organisation": "bench", "level": "district"},
            "target": {"base_url": sut.url},
            "npdb": {"start": False, "state_dir": str(npdb_state)},
            "scope": {"allowed_hosts": sut.scope},
            "output_dir": str(folder / "runs")}
        if sut.ca_path is not None:
            config["target"]["ca_bundle"] = str(sut.ca_path)
        if suites:
            config["suites"] = suites
        if getattr(sut, "source_path", None) is not None:  # issue 24: a hostile source tree
            config["source"] = {"path": str(sut.source_path)}
        expect = dict(getattr(sut, "expect", {}))
        (folder / "run.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
        started = time.monotonic()
        with open(folder / "popcert.log", "wb") as log:
            process = subprocess.Popen(
                [str(POPCERT), "certify", "--quick", "-c", str(folder / "run.yaml")],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200"})
            with hostile.PeakRss(process.pid) as rss:
                try:
                    exit_code: int | None = process.wait(timeout=RUN_LIMIT_S + 60)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
                    exit_code = None
        wall_s = time.monotonic() - started
        time.sleep(0.3)
        leaked = sut.elsewhere.hits if sut.elsewhere is not None else 0
    reports = sorted(folder.glob("runs/*/*/report.json"))
    report = json.loads(reports[-1].read_text(encoding="utf-8")) if reports else None
    problems = []
    if exit_code not in (0, 1):
        problems.append(f"exit {exit_code}")
    if report is None or not report["run"]["complete"]:
        problems.append("no complete report")
    if wall_s > RUN_LIMIT_S:
        problems.append(f"{wall_s:.0f} s > {RUN_LIMIT_S:.0f} s")
    if rss.peak_mib > RSS_LIMIT_MIB:
        problems.append(f"{rss.peak_mib:.0f} MiB > {RSS_LIMIT_MIB:.0f} MiB")
    if leaked:
        problems.append(f"{leaked} requests reached the redirect target")
    # issue 24: a dodge (a hollow or malformed published spec, verification switched off in the
    # source) must end as the case expects (fail), not pass and not error
    got = {r["check"]["id"]: r["status"] for r in (report or {}).get("results", [])}
    problems += [f"{check} {got.get(check, 'not run')}, expected {wanted}"
                 for check, wanted in expect.items() if got.get(check) != wanted]
    verdict = report["verdict"]["status"] if report else "-"
    return CaseResult(name, wall_s, rss.peak_mib, exit_code, verdict,
                      bool(report and report["run"]["complete"]), leaked, problems, rss.at_peak)


def run_local(names: list[str], keep: bool) -> tuple[int, int]:
    """Issue 24's local cases (tests/hostile/local_cases.py), one after the other (one measures
    stop times): how many held, of how many ran."""
    held = total = 0
    if names:
        print(f"{'local case':28} {'wall s':>7}  held / what was measured")
    for name in names:
        folder = Path(tempfile.mkdtemp(prefix=f"popcert-hostile-{name}-"))
        started = time.monotonic()
        try:
            outcome = LOCAL_CATALOGUE[name](folder)
        except Exception as crash:  # noqa: BLE001 - a case that crashes did not hold
            outcome = LocalOutcome([f"{type(crash).__name__}: {crash}"])
        wall_s = time.monotonic() - started
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)
        if outcome.skipped:
            print(f"{name:28} {wall_s:7.1f}  skipped: {outcome.skipped}")
            continue
        total += 1
        held += not outcome.problems
        print(f"{name:28} {wall_s:7.1f}  " + (f"yes: {outcome.figure}" if not outcome.problems
                                               else "NO: " + "; ".join(outcome.problems)))
    return held, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", default=",".join([*hostile.CATALOGUE, *LOCAL_CATALOGUE]))
    parser.add_argument("--parallel", type=int, default=7)
    parser.add_argument("--suites", default="", help="comma-separated; default: the run's own")
    parser.add_argument("--keep", action="store_true", help="keep the runs' folders (printed)")
    args = parser.parse_args()
    names = [n for n in args.cases.split(",") if n]
    unknown = set(names) - set(hostile.CATALOGUE) - set(LOCAL_CATALOGUE)
    if unknown:
        parser.error(f"unknown cases {sorted(unknown)}; known: "
                     f"{sorted([*hostile.CATALOGUE, *LOCAL_CATALOGUE])}")
    local = [n for n in names if n in LOCAL_CATALOGUE]
    names = [n for n in names if n in hostile.CATALOGUE]
    if not names:  # local cases only: no SUT, no baseline run
        held, total = run_local(local, args.keep)
        print(f"hostile: {held}/{total} held")
        return
    suites = [s for s in args.suites.split(",") if s] or None
    for encoding in ("gzip, gzip", "deflate", "br"):
        hostile.bomb_body(encoding, 1 << 30)  # built once, outside any measured run
    from popcert_npdb.launcher import MockNPDB

    with tempfile.TemporaryDirectory(prefix="popcert-hostile-bench-") as tmp_name:
        tmp = Path(tempfile.mkdtemp(prefix="popcert-hostile-bench-")) if args.keep \
            else Path(tmp_name)
        with MockNPDB(tmp / "npdb", population=1000, seed=6) as npdb:
            # The slowest cases first: the bench then lasts about as long as its longest run.
            slow = [n for n in ("hang", "slowloris") if n in names]
            cases = {**{n: hostile.CATALOGUE[n] for n in slow}, BASELINE: hostile.recorder,
                     **{n: hostile.CATALOGUE[n] for n in names if n not in slow}}
            for name in cases:
                (tmp / name).mkdir()
            started = time.monotonic()
            with ThreadPoolExecutor(max_workers=max(1, args.parallel)) as pool:
                futures = {name: pool.submit(run_case, name, factory, npdb.state_dir,
                                             tmp / name, suites)
                           for name, factory in cases.items()}
                results = {name: future.result() for name, future in futures.items()}
            total_s = time.monotonic() - started
    baseline = results.pop(BASELINE)
    print(f"{'case':28} {'wall s':>7} {'x base':>7} {'peak MiB':>9}  verdict          held")
    print(f"{BASELINE + ' (baseline)':28} {baseline.wall_s:7.1f} {1.0:7.2f} "
          f"{baseline.peak_mib:9.0f}  {baseline.verdict:16} {'-' if baseline.held else 'NO: '}"
          + "; ".join(baseline.problems))
    for result in results.values():
        ratio = result.wall_s / baseline.wall_s if baseline.wall_s else float("nan")
        print(f"{result.name:28} {result.wall_s:7.1f} {ratio:7.2f} {result.peak_mib:9.0f}  "
              f"{result.verdict:16} {'yes' if result.held else 'NO: ' + '; '.join(result.problems)}")
        if result.peak_mib > RSS_LIMIT_MIB:
            print("    at the peak (MiB): " + ", ".join(
                f"{name} {mib}" for name, mib in sorted(result.at_peak.items(),
                                                        key=lambda item: -item[1])))
    local_held, local_total = run_local(local, args.keep)
    held = sum(r.held for r in results.values()) + local_held
    peak = max((r.peak_mib for r in results.values()), default=0.0)
    longest = max((r.wall_s for r in results.values()), default=0.0)
    print(f"{len(results)} cases, {args.parallel} at a time, {total_s:.0f} s in all; longest run "
          f"{longest / baseline.wall_s:.2f}x the benign stub's {baseline.wall_s:.0f} s")
    if args.keep:
        print(f"runs kept in {tmp}")
    print(f"hostile: {held}/{len(results) + local_total} held, peak RSS {peak:.0f} MiB, "
          f"longest {longest:.0f} s")


if __name__ == "__main__":
    main()
