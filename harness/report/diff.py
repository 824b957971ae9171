"""What changed between two certification runs of the same system.

Vendors re-run after fixing; assessors want to see what moved: the verdict, checks that changed
status, and checks that appeared or disappeared (a new harness version, or a suite not run).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.table import Table


class ChangeKind(enum.StrEnum):
    VERDICT = "verdict_changed"
    STATUS = "status_changed"
    APPEARED = "appeared"
    DISAPPEARED = "disappeared"


@dataclass(frozen=True)
class Change:
    kind: ChangeKind
    check_id: str | None  # None for the verdict
    old: str | None
    new: str | None
    severity: str | None = None
    mandatory: bool = False

    @property
    def is_regression(self) -> bool:
        """Worse than before: a pass that no longer passes, or a verdict that lost CERTIFIED."""
        if self.kind is ChangeKind.VERDICT:
            return self.old == "CERTIFIED"
        if self.kind is ChangeKind.STATUS:
            return self.old == "pass" and self.new != "pass"
        return self.kind is ChangeKind.APPEARED and self.new in ("fail", "error")

    def describe(self) -> str:
        if self.kind is ChangeKind.VERDICT:
            return f"verdict: {self.old} -> {self.new}"
        if self.kind is ChangeKind.APPEARED:
            return f"{self.check_id}: new check, {self.new}"
        if self.kind is ChangeKind.DISAPPEARED:
            return f"{self.check_id}: no longer reported (was {self.old})"
        return f"{self.check_id}: {self.old} -> {self.new}"


def _statuses(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["check"]["id"]: r for r in report.get("results", [])}


def diff_reports(old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    """Verdict change first, then per-check changes sorted by check id."""
    changes: list[Change] = []
    old_verdict, new_verdict = old["verdict"]["status"], new["verdict"]["status"]
    if old_verdict != new_verdict:
        changes.append(Change(ChangeKind.VERDICT, None, old_verdict, new_verdict))
    before, after = _statuses(old), _statuses(new)
    for check_id in sorted(set(before) | set(after)):
        was, now = before.get(check_id), after.get(check_id)
        latest = now or was
        assert latest is not None
        meta = {"severity": latest["check"]["severity"], "mandatory": bool(latest["mandatory"])}
        if was is None and now is not None:
            changes.append(Change(ChangeKind.APPEARED, check_id, None, now["status"], **meta))
        elif now is None and was is not None:
            changes.append(Change(ChangeKind.DISAPPEARED, check_id, was["status"], None, **meta))
        elif was is not None and now is not None and was["status"] != now["status"]:
            changes.append(Change(ChangeKind.STATUS, check_id, was["status"], now["status"], **meta))
    return changes


def render_text(changes: list[Change]) -> str:
    """Plain text, one change per line; regressions marked so they stand out in CI logs."""
    if not changes:
        return "no changes"
    return "\n".join(("! " if c.is_regression else "  ") + c.describe() for c in changes)


def print_rich(changes: list[Change], console: Console | None = None) -> None:
    console = console or Console()
    if not changes:
        console.print("no changes")
        return
    table = Table(title="popcert diff")
    table.add_column("check", no_wrap=True)  # ids must stay greppable in CI logs
    for column in ("change", "before", "after", "severity", "mandatory"):
        table.add_column(column)
    for c in changes:
        style = "red" if c.is_regression else ("green" if c.new in ("pass", "CERTIFIED") else "")
        table.add_row(c.check_id or "(verdict)", str(c.kind), c.old or "—", c.new or "—",
                      c.severity or "", "yes" if c.mandatory else "", style=style)
    console.print(table)
