"""One address family's analysis, and how a check's per-family answers become one result.

A dual-stack host has two policies: each check judges every family the ruleset files hold, and a
family the SUT uses but no file describes is an `error` for that family, never a silent pass.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from harness.checks import CheckResult, Evidence, Status
from harness.suites.firewall.analysis import Decision, RulesetAnalysis
from harness.suites.firewall.baseline import Baseline
from harness.suites.firewall.queries import describe, packet_text

LABEL = {"ipv4": "IPv4", "ipv6": "IPv6"}
MAX_EXAMPLES = 5  # counterexamples kept per check and family: enough to act on, short enough to read


@dataclass(frozen=True)
class FamilyView:
    family: str
    path: Path  # the file this family's rules came from (line numbers refer to it)
    analysis: RulesetAnalysis
    baseline: Baseline = field(repr=False)

    @property
    def label(self) -> str:
        return LABEL[self.family]

    def note(self) -> Evidence:
        rs = self.analysis.ruleset
        tool = {"iptables": "ip6tables-save" if self.family == "ipv6" else "iptables-save",
                "nft": "nft -j"}.get(rs.format, rs.format)
        text = (f"{self.label} {tool} ruleset {self.path}: {rs.rule_count} rules; "
                f"baseline {self.baseline.version}")
        if rs.notes:
            text += "; not analysed: " + "; ".join(rs.notes[:5])
        return Evidence.note(text, title=f"{self.label} ruleset")

    def offending(self, decisions: list[Decision], hook: str, why: str) -> list[Evidence]:
        """Counterexample packets, each with the rule (line, text) that accepts it."""
        out = []
        for decision in decisions[:MAX_EXAMPLES]:
            packet = describe(decision.boxes[0], self.analysis.ifaces, hook, self.family)
            rule = decision.entry.rule
            out.append(Evidence.finding(
                str(self.path), rule.line if rule else None, "counterexample",
                f"{self.label}: {why}: {packet_text(packet)} is accepted by {decision.entry.location}",
                title=f"counterexample packet ({self.label})", packet=packet, hook=hook,
                family=self.family, rule_text=rule.text if rule else decision.entry.note))
        return out


class HasFamilies(Protocol):
    @property
    def families(self) -> dict[str, FamilyView]: ...

    @property
    def missing(self) -> dict[str, str]: ...


def per_family(ctx: HasFamilies, judge: Callable[[FamilyView], CheckResult],
               applies: Callable[[str], str | None] = lambda family: None) -> CheckResult:
    """Ask `judge` of every family; `applies(family)` returns why a family is not concerned.
    A failure anywhere fails the check; else a family that could not be judged makes it `error`."""
    results: dict[str, CheckResult] = {}
    for family in ("ipv4", "ipv6"):
        reason = applies(family)
        if reason is not None:
            if family in ctx.families or family in ctx.missing:
                results[family] = CheckResult.skipped(reason)
        elif family in ctx.missing:
            results[family] = CheckResult.errored(ctx.missing[family])
        elif family in ctx.families:
            results[family] = judge(ctx.families[family])
    if not results:
        return CheckResult.skipped("no address family of this ruleset concerns this check")
    return combine(results)


def combine(results: dict[str, CheckResult]) -> CheckResult:
    statuses = {r.status for r in results.values()}
    for status in (Status.FAIL, Status.ERROR, Status.PASS, Status.SKIP):
        if status in statuses:
            break
    summary = "; ".join(f"{LABEL[f]}: {r.summary}" for f, r in results.items())
    table = Evidence.note("; ".join(f"{LABEL[f]} {r.status}" for f, r in results.items()),
                          title="result per address family")
    evidence = tuple(e for r in results.values() for e in r.evidence) + (table,)
    measurements = {f"{k}_{f}": v for f, r in results.items() for k, v in r.measurements.items()}
    if len(results) == 1:  # keep the measurement names single-family runs always had
        measurements.update(next(iter(results.values())).measurements)
    return CheckResult(status, summary, evidence, measurements)
