"""Bandit and popcert's TLS rule over the Python files of a source inventory, in bounded children.

Parsing happens in ``worker`` child processes (address-space cap, deadline, killed with
popcert): a batch of small files per child, each large file alone; a file whose child runs out of
memory or time is reported as not analysed, which fails the check, never crashes the harness.
Findings come back as plain ``CodeFinding`` records (file relative to the source root, line, rule,
severity, confidence, fingerprint) so the baseline and the report never touch bandit's objects.
``# nosec`` comments are not honoured: an accepted finding goes in the baseline, with a reason.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.processes import spawn
from harness.suites.sast.files import SourceFile, SourceInventory, fingerprint

LEVELS = ("low", "medium", "high")
# Bounds of the parsing children; a file beyond them is listed as not analysed (the check fails).
CHILD_MEMORY_LIMIT = 2 * 1024**3
MAX_PYTHON_BYTES = 16 * 1024 * 1024
BATCH_BYTES = 1024 * 1024
ANALYSIS_BUDGET_S = 90.0  # inside the check's own 120 s limit


@dataclass(frozen=True)
class CodeFinding:
    relative: str
    line: int | None
    rule: str  # bandit test id (B501) or secrets rule (private-key)
    name: str
    message: str
    severity: str  # low | medium | high
    confidence: str  # low | medium | high
    fingerprint: str
    code: str = ""


def level_at_least(level: str, minimum: str) -> bool:
    return LEVELS.index(level.lower()) >= LEVELS.index(minimum.lower())


@dataclass(frozen=True)
class PythonAnalysis:
    bandit: tuple[CodeFinding, ...]
    tls: tuple[CodeFinding, ...]  # popcert's TLS-verification rule (tls_rule.py), info ones included
    skipped: tuple[tuple[str, str], ...]  # Python files not analysed, with the reason
    files_scanned: int


def analyse_python(inventory: SourceInventory, *, budget_s: float = ANALYSIS_BUDGET_S,
                   memory_limit_bytes: int = CHILD_MEMORY_LIMIT) -> PythonAnalysis:
    """Parse every Python file of the inventory in children, within a time and memory budget."""
    python = inventory.python()
    by_path = {str(f.path): f for f in python}
    skipped: list[tuple[str, str]] = []
    analysed: list[dict[str, Any]] = []
    deadline = time.monotonic() + budget_s
    queue = _batches([f for f in python if f.size <= MAX_PYTHON_BYTES])
    skipped += [(f.relative, (f"{f.size} bytes, over the {MAX_PYTHON_BYTES}-byte limit for "
                              "parsing a Python file")) for f in python if f.size > MAX_PYTHON_BYTES]
    with tempfile.TemporaryDirectory(prefix="popcert-sast-") as scratch:
        while queue:
            batch = queue.pop(0)
            remaining = deadline - time.monotonic()
            if remaining <= 1:
                skipped += [(f.relative, (f"not analysed: the {budget_s:g} s analysis budget "
                                          "was spent")) for f in batch]
                continue
            result, why = _run_child(batch, Path(scratch), remaining, memory_limit_bytes)
            if result is not None:
                analysed.append(result)
            elif len(batch) > 1:
                queue = [[f] for f in batch] + queue  # find the file that broke the batch
            else:
                skipped.append((batch[0].relative, why))
    bandit, tls = [], []
    for result in analysed:
        bandit += [_bandit_finding(issue, by_path) for issue in result["bandit"]]
        tls += [_tls_finding(issue, by_path) for issue in result["tls"]]
        for name, reason in result["bandit_skipped"] + result["tls_skipped"]:
            relative = by_path[name].relative if name in by_path else Path(name).name
            if all(relative != done for done, _ in skipped):
                skipped.append((relative, reason))
    return PythonAnalysis(tuple(bandit), tuple(tls), tuple(sorted(skipped)),
                          len(python) - len({name for name, _ in skipped}))


def _batches(files: list[SourceFile]) -> list[list[SourceFile]]:
    batches: list[list[SourceFile]] = []
    size = BATCH_BYTES + 1
    for source in sorted(files, key=lambda f: f.relative):
        if size + source.size > BATCH_BYTES:
            batches.append([])
            size = 0
        batches[-1].append(source)
        size += source.size
    return batches


def _run_child(batch: list[SourceFile], scratch: Path, limit_s: float,
               memory_limit_bytes: int) -> tuple[dict[str, Any] | None, str]:
    request = scratch / "request.json"
    answer = scratch / "result.json"
    answer.unlink(missing_ok=True)
    request.write_text(json.dumps({"files": [str(f.path) for f in batch]}), encoding="utf-8")
    with (scratch / "worker.log").open("wb") as log:
        child = spawn([sys.executable, "-m", "harness.suites.sast.worker", str(request),
                       str(answer)], name="sast-worker", stdout=log, stderr=subprocess.STDOUT,
                      deadline_s=limit_s, memory_limit_bytes=memory_limit_bytes,
                      cwd=str(scratch))
        try:
            code = child.wait(timeout=limit_s + 15)
        except subprocess.TimeoutExpired:
            child.stop(grace_s=0)
            code = child.returncode
    if child.timed_out:
        return None, f"not analysed: parsing took over {limit_s:.0f} s"
    if code != 0 or not answer.exists():
        tail = (scratch / "worker.log").read_text(encoding="utf-8", errors="replace")[-300:]
        why = "memory" if "MemoryError" in tail or code in (-9, 137) else f"exit code {code}"
        return None, (f"not analysed: the parser failed ({why}; cap "
                      f"{memory_limit_bytes // 1024**2} MiB)")
    try:
        return json.loads(answer.read_text(encoding="utf-8")), ""
    except ValueError:
        return None, "not analysed: unreadable result from the parser"


def _bandit_finding(issue: dict[str, Any], by_path: dict[str, SourceFile]) -> CodeFinding:
    source = by_path.get(issue["file"])
    relative = source.relative if source else Path(issue["file"]).name
    line_text = _line(source.path if source else Path(issue["file"]), issue["line"])
    return CodeFinding(relative=relative, line=issue["line"], rule=issue["rule"],
                       name=issue["name"], message=issue["message"], severity=issue["severity"],
                       confidence=issue["confidence"],
                       fingerprint=fingerprint(issue["rule"], relative, line_text),
                       code=line_text.strip())


def _tls_finding(issue: dict[str, Any], by_path: dict[str, SourceFile]) -> CodeFinding:
    source = by_path.get(issue["file"])
    relative = source.relative if source else Path(issue["file"]).name
    line_text = _line(source.path if source else Path(issue["file"]), issue["line"])
    return CodeFinding(relative=relative, line=issue["line"], rule=issue["rule"],
                       name=issue["rule"], message=issue["message"], severity=issue["severity"],
                       confidence="high",
                       fingerprint=fingerprint(issue["rule"], relative, line_text),
                       code=line_text.strip()[:200])


def _line(path: Path, number: int | None) -> str:
    if not number:
        return ""
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            for index, text in enumerate(handle, start=1):
                if index == number:
                    return text.rstrip("\n")
    except OSError:
        return ""
    return ""
