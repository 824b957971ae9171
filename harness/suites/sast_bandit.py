"""Bandit, in process, over the Python files of a source inventory.

Findings come back as plain ``CodeFinding`` records (file relative to the source root, line, rule,
severity, confidence, fingerprint) so the baseline and the report never touch bandit's objects.
``# nosec`` comments are not honoured: an accepted finding goes in the baseline, with a reason.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from harness.suites.sast_files import SourceInventory, fingerprint

LEVELS = ("low", "medium", "high")


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


@dataclass(frozen=True)
class BanditRun:
    findings: tuple[CodeFinding, ...]
    skipped: tuple[tuple[str, str], ...]  # files bandit could not parse, with the reason
    files_scanned: int


def level_at_least(level: str, minimum: str) -> bool:
    return LEVELS.index(level.lower()) >= LEVELS.index(minimum.lower())


def run_bandit(inventory: SourceInventory) -> BanditRun:
    """Run every bandit plugin over the inventory's Python files (already size/binary filtered)."""
    from bandit.core import config as b_config
    from bandit.core import manager as b_manager

    # bandit logs every parse problem at WARNING; we report them as evidence instead.
    logging.getLogger("bandit").setLevel(logging.ERROR)
    manager = b_manager.BanditManager(b_config.BanditConfig(), "file", quiet=True,
                                      ignore_nosec=True)
    by_path = {str(f.path): f for f in inventory.python()}
    manager.files_list = sorted(by_path)
    manager.run_tests()
    findings = []
    for issue in manager.get_issue_list():
        source = by_path.get(issue.fname)
        relative = source.relative if source else Path(issue.fname).name
        line_text = _line(source.path if source else Path(issue.fname), issue.lineno)
        findings.append(CodeFinding(
            relative=relative, line=issue.lineno, rule=issue.test_id, name=issue.test,
            message=issue.text, severity=issue.severity.lower(),
            confidence=issue.confidence.lower(),
            fingerprint=fingerprint(issue.test_id, relative, line_text), code=line_text.strip()))
    skipped = tuple((by_path[name].relative if name in by_path else name, str(reason))
                    for name, reason in manager.get_skipped())
    return BanditRun(tuple(findings), skipped, len(manager.files_list))


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
