"""What changed between two certification runs of the same system.

Vendors re-run after fixing; assessors want to see what moved: the verdict, checks that changed
status, and checks that appeared or disappeared (a new harness version, or a suite not run).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table

from harness.report.document import Fingerprints, ReportDocument, ResultEntry, SpecEntry


class ChangeKind(enum.StrEnum):
    VERDICT = "verdict_changed"
    STATUS = "status_changed"
    APPEARED = "appeared"
    DISAPPEARED = "disappeared"
    FINGERPRINT = "fingerprint_changed"  # the certified ruleset or source tree is not the same
    SPEC = "spec_changed"  # another spec version or content: the certificate no longer covers it


@dataclass(frozen=True)
class Change:
    kind: ChangeKind
    check_id: str | None  # None for the verdict
    old: str | None
    new: str | None
    severity: str | None = None
    mandatory: bool = False

    @property
    def needs_recertification(self) -> bool:
        """What a certificate vouched for changed (firewall policy, source, specs)."""
        return self.kind in (ChangeKind.FINGERPRINT, ChangeKind.SPEC)

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
        if self.needs_recertification:
            return f"{self.check_id} changed: {self.old or '—'} -> {self.new or '—'} (re-certify)"
        if self.kind is ChangeKind.APPEARED:
            return f"{self.check_id}: new check, {self.new}"
        if self.kind is ChangeKind.DISAPPEARED:
            return f"{self.check_id}: no longer reported (was {self.old})"
        return f"{self.check_id}: {self.old} -> {self.new}"


def _statuses(report: ReportDocument) -> dict[str, ResultEntry]:
    return {r.check.id: r for r in report.results}


def diff_reports(old: ReportDocument, new: ReportDocument) -> list[Change]:
    """Verdict change first, then per-check changes sorted by check id."""
    changes: list[Change] = []
    old_verdict, new_verdict = old.verdict.status, new.verdict.status
    if old_verdict != new_verdict:
        changes.append(Change(ChangeKind.VERDICT, None, old_verdict, new_verdict))
    changes.extend(_certified_inputs(old, new))
    before, after = _statuses(old), _statuses(new)
    for check_id in sorted(set(before) | set(after)):
        was, now = before.get(check_id), after.get(check_id)
        latest = now or was
        assert latest is not None
        severity, mandatory = latest.check.severity, bool(latest.mandatory)
        if was is None and now is not None:
            changes.append(Change(ChangeKind.APPEARED, check_id, None, now.status, severity, mandatory))
        elif now is None and was is not None:
            changes.append(Change(ChangeKind.DISAPPEARED, check_id, was.status, None, severity, mandatory))
        elif was is not None and now is not None and was.status != now.status:
            changes.append(Change(ChangeKind.STATUS, check_id, was.status, now.status, severity, mandatory))
    return changes


def _fingerprints(report: ReportDocument) -> dict[str, str | None]:
    """By the name diff shows; a report from before fingerprints has none."""
    found = report.run.fingerprints or Fingerprints()
    return {"firewall ruleset": found.firewall_ruleset, "source tree": found.source_tree}


def _certified_inputs(old: ReportDocument, new: ReportDocument) -> list[Change]:
    """Changed firewall ruleset / source tree fingerprints and spec versions or contents."""
    changes = []
    before, after = _fingerprints(old), _fingerprints(new)
    for name in before:
        if before[name] != after[name]:
            changes.append(Change(ChangeKind.FINGERPRINT, name, before[name], after[name]))
    for name in sorted(set(old.specs) | set(new.specs)):
        was, now = old.specs.get(name), new.specs.get(name)
        if was != now:
            changes.append(Change(ChangeKind.SPEC, f"spec {name}", _spec_label(was),
                                  _spec_label(now)))
    return changes


def _spec_label(spec: SpecEntry | None) -> str | None:
    if spec is None:
        return None
    return f"{spec.version} sha256:{spec.sha256[:12]}"


def render_text(changes: list[Change]) -> str:
    """Plain text, one change per line; regressions marked so they stand out in CI logs."""
    if not changes:
        return "no changes"
    return "\n".join(("! " if c.is_regression else "~ " if c.needs_recertification else "  ")
                     + c.describe() for c in changes)


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
        style = "yellow" if c.needs_recertification else style
        table.add_row(c.check_id or "(verdict)", str(c.kind), c.old or "—", c.new or "—",
                      c.severity or "", "yes" if c.mandatory else "", style=style)
    console.print(table)
