"""The results' digest chain: each result's digest chains the previous one, as results.jsonl writes
them line by line, and the report carries the head (``run.results_chain``).

A result deleted, added, reordered or edited after the run (in report.json, between `certify` and
`sign`) no longer gives the recorded head; when results.jsonl lies beside the report, its last
line's chain must be the report's head too. The chain is over what both files hold alike: the
check id, mandatory, status, summary, measurements, started_at and duration_s (a report's evidence
gains repository paths that results.jsonl does not carry).

link_i = sha256(link_{i-1} ASCII hex + sha256(canonical JSON of result i's core)), link_0 = 64 zeros.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.signing.canonical import canonical_json

GENESIS = "0" * 64
CHAIN_FIELD = "chain"  # the link each results.jsonl line carries


@dataclass(frozen=True)
class ResultsChain:
    count: int
    head: str

    def to_json(self) -> dict[str, Any]:
        return {"count": self.count, "head": self.head}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> ResultsChain:
        return cls(int(raw["count"]), str(raw["head"]))


def result_core(check_id: str, mandatory: bool, status: str, summary: str,
                measurements: Mapping[str, Any], started_at: str, duration_s: float) -> dict[str, Any]:
    return {"check_id": check_id, "mandatory": mandatory, "status": status, "summary": summary,
            "measurements": dict(measurements), "started_at": started_at,
            "duration_s": duration_s}


def core_of_json(result: Mapping[str, Any]) -> dict[str, Any]:
    """The chained core of a result as report.json or results.jsonl holds it."""
    return result_core(result["check"]["id"], bool(result["mandatory"]), str(result["status"]),
                       str(result["summary"]), result.get("measurements") or {},
                       str(result["started_at"]), result["duration_s"])


def link(previous: str, core: Mapping[str, Any]) -> str:
    digest = hashlib.sha256(canonical_json(dict(core))).hexdigest()
    return hashlib.sha256((previous + digest).encode("ascii")).hexdigest()


def chain_of(cores: Iterable[Mapping[str, Any]]) -> ResultsChain:
    head, count = GENESIS, 0
    for core in cores:
        head, count = link(head, core), count + 1
    return ResultsChain(count, head)


def report_chain_problems(report: Mapping[str, Any], results_jsonl: Path | None = None) -> list[str]:
    """Why the report's results do not give its recorded chain; empty when they do.

    ``report`` is schema-valid report JSON. ``results_jsonl``: the run's results.jsonl when it is
    beside the report (its last link must be the report's head).
    """
    recorded = (report.get("run") or {}).get("results_chain")
    if recorded is None:
        return [("run.results_chain is missing: the report does not carry its results' digest "
                 "chain (written by every run of this popcert) — re-run the certification")]
    results = report.get("results") or []
    try:
        actual = chain_of(core_of_json(r) for r in results)
    except (KeyError, TypeError, ValueError):
        return ["run.results_chain: a result lacks a field the chain covers"]
    expected = ResultsChain.from_json(recorded)
    problems = []
    if actual != expected:
        problems.append(f"results digest chain broken: the run recorded {expected.count} results "
                        f"(head {expected.head[:12]}…), the report holds {actual.count} giving "
                        f"{actual.head[:12]}… — a result was deleted, added, reordered or edited "
                        "after the run")
    if results_jsonl is not None and results_jsonl.is_file():
        logged = jsonl_chain(results_jsonl)
        if logged is not None and logged != expected:
            problems.append(f"{results_jsonl.name} beside the report ends at result {logged.count} "
                            f"(link {logged.head[:12]}…), but the report records {expected.count} "
                            f"(head {expected.head[:12]}…) — the report's results are not the run's")
    return problems


def jsonl_chain(path: Path) -> ResultsChain | None:
    """The chain results.jsonl records (recomputed, and its last written link), or None when the
    file predates chains. A line whose link does not follow is reported as a different head."""
    head, count = GENESIS, 0
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            core = core_of_json(raw)
        except (ValueError, KeyError, TypeError):
            continue  # the line being written when the process died
        written = raw.get(CHAIN_FIELD) if isinstance(raw, dict) else None
        if written is None:
            return None
        head, count = link(head, core), count + 1
        if written != head:
            return ResultsChain(count, str(written))
    return ResultsChain(count, head)
