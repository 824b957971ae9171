"""Firewall policy suite: parse iptables-save / nft -j rulesets and prove properties over all packets.

The context reads the vendor's ruleset and the national baseline once; the checks (``checks.py``)
ask questions of that analysis. A ruleset that cannot be read stops the suite (SuiteUnavailable).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from harness.checks import Evidence, SuiteUnavailable
from harness.registry import Suite
from harness.run_context import RunContext
from harness.suites.firewall.analysis import RulesetAnalysis
from harness.suites.firewall.baseline import Baseline, load_baseline
from harness.suites.firewall.model import RulesetParseError
from harness.suites.firewall.parse import load_ruleset


@dataclass
class FirewallContext:
    ruleset_path: Path
    baseline: Baseline
    analysis: RulesetAnalysis


def build_context(ruleset_path: Path | str, baseline_path: Path | str, fmt: str = "auto") -> FirewallContext:
    """Read the ruleset and the baseline; an unreadable ruleset raises SuiteUnavailable naming
    the file and line."""
    baseline = load_baseline(baseline_path)
    try:
        ruleset = load_ruleset(ruleset_path, fmt)
        analysis = RulesetAnalysis(ruleset, tuple(baseline.loopback_interfaces))
    except RulesetParseError as err:
        raise SuiteUnavailable(
            f"cannot analyse the ruleset: {err.one_line()}",
            Evidence.finding(err.path, err.line if isinstance(err.line, int) else None,
                             "ruleset-parse", err.message, title="unreadable ruleset")) from None
    return FirewallContext(Path(ruleset_path), baseline, analysis)


def make_context(run: RunContext) -> Iterator[FirewallContext]:
    config = run.config.firewall
    if config is None:
        from harness.errors import ConfigError
        raise ConfigError(run.config.source_file or "run.yaml", "firewall.ruleset",
                          "the firewall suite needs a ruleset file", "add firewall: {ruleset: path}")
    yield build_context(config.ruleset, config.baseline, config.format)


# Imported last: checks.py reads FirewallContext from this module.
from harness.suites.firewall.checks import (
    admin_ports_management_only,
    default_deny_inbound,
    egress_npdb_only,
    inbound_gateway_only,
    no_any_any,
    no_shadowed_rules,
)

SUITE = Suite("firewall", make_context, checks=(
    default_deny_inbound, inbound_gateway_only, admin_ports_management_only, egress_npdb_only,
    no_any_any, no_shadowed_rules))
