"""What every FW check receives (``FirewallContext``) and its factory.

The context reads the vendor's ruleset file(s) and the national baseline once (``build_context``,
also used by tests and bench/firewall_analysis.py); the checks ask questions of that analysis. A
ruleset that cannot be read stops the suite (SuiteUnavailable). The context is read-only.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

from harness.checks import Evidence, SuiteUnavailable
from harness.net import ScopeGuard
from harness.run_context import RunContext
from harness.suites.firewall.analysis import RulesetAnalysis
from harness.suites.firewall.baseline import Baseline, load_baseline
from harness.suites.firewall.families import LABEL, FamilyView
from harness.suites.firewall.model import Ruleset, RulesetParseError
from harness.suites.firewall.parse import load_families
from harness.suites.firewall.scan import ScanSettings

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class LiveScan:
    """What FW-LIVE-EXPOSURE may probe and how (from firewall.live and the profile)."""

    scope: ScopeGuard
    declared_port: int  # the SUT's service port (target.base_url)
    extra_ports: tuple[int, ...] = ()
    full_sweep: bool = False
    stands_for: str = "internet"
    baseline_ports: bool = True  # probe the baseline's admin and common service ports too
    settings: ScanSettings = field(default_factory=ScanSettings)


@dataclass(frozen=True)
class FirewallContext:
    ruleset_path: Path
    baseline: Baseline
    families: dict[str, FamilyView]
    # family -> why it cannot be judged (the SUT uses it but no ruleset describes it)
    missing: dict[str, str] = field(default_factory=dict)
    sut_addresses: tuple[Address, ...] = ()
    live: LiveScan | None = None  # None: static analysis only (no run config, or turned off)
    live_off: str = "static analysis only: no run configuration, so no live scan"

    @property
    def analysis(self) -> RulesetAnalysis:
        """The IPv4 analysis, or the only one (single-family callers and tools)."""
        view = self.families.get("ipv4") or next(iter(self.families.values()))
        return view.analysis


def build_context(ruleset_path: Path | str, baseline_path: Path | str, fmt: str = "auto",
                  ruleset_ipv6: Path | str | None = None, addresses: Iterable[Address] = (),
                  live: LiveScan | None = None) -> FirewallContext:
    """Read the ruleset file(s) and the baseline; an unreadable ruleset raises SuiteUnavailable
    naming the file and line."""
    baseline = load_baseline(baseline_path)
    files: list[tuple[Path, str]] = [(Path(ruleset_path), fmt)]
    if ruleset_ipv6 is not None:
        files.append((Path(ruleset_ipv6), "ip6tables" if fmt in ("iptables", "ip6tables") else "auto"))
    rulesets: dict[str, Ruleset] = {}
    try:
        for path, file_fmt in files:
            found = load_families(path, file_fmt)
            if path != files[0][0]:
                found = [r for r in found if r.family == "ipv6"]
                if not found:
                    raise RulesetParseError(path, None, "firewall.ruleset_ipv6 holds no IPv6 ruleset")
            for ruleset in found:
                if ruleset.family in rulesets:
                    raise RulesetParseError(path, None, f"a second {LABEL[ruleset.family]} ruleset "
                                            f"(the first is in {rulesets[ruleset.family].path}): give each family once")
                rulesets[ruleset.family] = ruleset
        families = {f: FamilyView(f, r.path, RulesetAnalysis(r, tuple(baseline.loopback_interfaces)), baseline)
                    for f, r in rulesets.items()}
    except RulesetParseError as err:
        raise SuiteUnavailable(
            f"cannot analyse the ruleset: {err.one_line()}",
            Evidence.finding(err.path, err.line if isinstance(err.line, int) else None,
                             "ruleset-parse", err.message, title="unreadable ruleset")) from None
    missing: dict[str, str] = {}
    addresses = tuple(addresses)
    for family, version in (("ipv4", 4), ("ipv6", 6)):
        declared = [str(a) for a in addresses if a.version == version]
        if declared and family not in families:
            missing[family] = (
                f"the SUT has {LABEL[family]} address(es) {', '.join(declared[:4])} but no {LABEL[family]} "
                "ruleset was given: its policy for that family cannot be judged (add firewall.ruleset_ipv6, "
                "or concatenate ip6tables-save output, or give an nft inet/ip6 table)")
    for family in list(families):
        gaps = baseline.families_missing(family)
        if gaps:
            missing[family] = (f"the baseline {baseline_path} has no {LABEL[family]} networks for "
                               f"{', '.join(gaps)}: the {LABEL[family]} policy cannot be judged against it")
            del families[family]
    if not families and not missing:
        raise SuiteUnavailable("no ruleset of any address family could be read")
    return FirewallContext(Path(ruleset_path), baseline, families, missing, addresses, live)


def sut_addresses(run: RunContext) -> tuple[Address, ...]:
    """The SUT's addresses: firewall.addresses, else what target.base_url names."""
    config = run.config.firewall
    if config is not None and config.addresses:
        return tuple(config.addresses)
    host = urlsplit(run.config.target.base_url).hostname or ""
    try:
        return (ipaddress.ip_address(host),)
    except ValueError:
        pass
    if host == "localhost":
        return (ipaddress.ip_address("127.0.0.1"),)
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        return ()
    return tuple(dict.fromkeys(ipaddress.ip_address(str(i[4][0]).split("%")[0]) for i in infos))


def make_context(run: RunContext) -> Iterator[FirewallContext]:
    config = run.config.firewall
    if config is None:
        from harness.errors import ConfigError
        raise ConfigError(run.config.source_file or "run.yaml", "firewall.ruleset",
                          "the firewall suite needs a ruleset file", "add firewall: {ruleset: path}")
    live = None
    if config.live.enabled:
        settings = config.live
        full = settings.full_sweep if settings.full_sweep is not None else bool(
            run.threshold("firewall", "live_full_sweep", False))
        url = urlsplit(run.config.target.base_url)
        live = LiveScan(run.scope, url.port or (443 if url.scheme == "https" else 80),
                        tuple(settings.ports), full, settings.stands_for, settings.baseline_ports,
                        ScanSettings(settings.rate_per_s, settings.concurrency,
                                     settings.connect_timeout_s, settings.deadline_s))
    ctx = build_context(config.ruleset, config.baseline, config.format, config.ruleset_ipv6,
                        sut_addresses(run), live)
    if live is None:
        ctx = replace(ctx, live_off="firewall.live.enabled is false: the host was not scanned")
    yield ctx
