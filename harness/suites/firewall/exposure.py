"""FW-LIVE-EXPOSURE: is the declared ruleset what the host runs? A bounded connect scan of the
SUT's in-scope addresses, each answering port judged against the declared policy.

A port that answers although the ruleset drops it, for a packet from where popcert stands, proves
the deployed filter is not the declared one. The scan stands for popcert's baseline zone, or
(popcert's address in no zone, e.g. on loopback) for the zone `firewall.live.stands_for` names;
its packets are judged as arriving on a real interface, never on loopback.
"""

from __future__ import annotations

import ipaddress

from harness.checks import CheckResult, Evidence, EvidenceKind, Severity, check
from harness.suites.firewall.baseline import ZONE_NAMES, ZONES, Baseline
from harness.suites.firewall.checks import IPV6_MISSING
from harness.suites.firewall.context import FirewallContext, LiveScan
from harness.suites.firewall.families import LABEL, MAX_EXAMPLES, FamilyView, combine
from harness.suites.firewall.packets import Dim, representative
from harness.suites.firewall.queries import (
    NOT_ESTABLISHED,
    cidrs,
    describe_point,
    not_loopback,
    outside,
    packets,
    ports,
    protos,
)
from harness.suites.firewall.scan import (
    CLOSED,
    FILTERED,
    OPEN,
    Probe,
    ScanResult,
    scan,
    source_address,
)

STAND_FOR = {"internet": "the internet (outside every baseline zone)",
             "gateway": "the national gateways (gateway_cidrs)",
             "management": "the management network (management_cidrs)"}
_STAND_ZONE = {"gateway": "gateway_cidrs", "management": "management_cidrs"}


@check("FW-LIVE-EXPOSURE", severity=Severity.HIGH, timeout_s=660,
       defect=("firewall.live_port_open", IPV6_MISSING),
       requirements=["FW-BASELINE-LIVE-EXPOSURE", "FW-BASELINE-DUAL-STACK"])
def live_exposure(ctx: FirewallContext) -> CheckResult:
    """The host exposes no port that the declared ruleset drops."""
    live = ctx.live
    if live is None:
        return CheckResult.skipped(ctx.live_off)
    if not ctx.sut_addresses:
        return CheckResult.errored("no SUT address is known (firewall.addresses, or target.base_url "
                                   "naming an address or a resolvable host): nothing to scan")
    addresses = [str(a) for a in ctx.sut_addresses]
    port_list = probe_ports(ctx.baseline, live)
    result = scan(addresses, port_list, live.scope, live.settings)
    record = Evidence(EvidenceKind.NOTE, "live scan: every probe", {
        "text": (f"{len(result.probes)} TCP connect probes of {len(port_list)} port(s) on "
                 f"{', '.join(sorted({p.address for p in result.probes})) or 'no address'} in "
                 f"{result.duration_s:.2f} s (rate {live.settings.rate_per_s:g}/s, concurrency "
                 f"{live.settings.concurrency}, connect timeout {live.settings.connect_timeout_s:g} s, "
                 f"deadline {live.settings.deadline_s:g} s); out of scope, not probed: "
                 f"{', '.join(result.refused) or 'none'}"),
        "probes": result.record(), "columns": ["address", "first_port", "last_port", "state", "connect_ms"]})
    if not result.probes:
        return CheckResult.errored(
            f"none of the SUT's addresses ({', '.join(addresses)}) is in scope.allowed_hosts: nothing was "
            "scanned (add them there if you are authorised to scan them)", record)
    results: dict[str, CheckResult] = {}
    for family, version in (("ipv4", 4), ("ipv6", 6)):
        probes = [p for p in result.probes if ipaddress.ip_address(p.address).version == version]
        if not probes:
            continue
        if family in ctx.missing:
            results[family] = CheckResult.errored(ctx.missing[family])
        elif family not in ctx.families:
            results[family] = CheckResult.errored(f"no {LABEL[family]} ruleset to compare the scan with")
        else:
            results[family] = _judge(ctx.families[family], live, probes, result)
    combined = combine(results)
    return CheckResult(combined.status, combined.summary, combined.evidence + (record,),
                       {"probes": float(len(result.probes)), "open_ports": float(len(result.open_ports())),
                        "scan_s": round(result.duration_s, 3)})


def probe_ports(baseline: Baseline, live: LiveScan) -> list[int]:
    """The TCP ports to probe on every address."""
    if live.full_sweep:
        return list(range(1, 65536))
    wanted = {live.declared_port, *live.extra_ports}
    if live.baseline_ports:
        wanted |= {*baseline.admin_ports, *baseline.common_service_ports}
    return sorted(wanted)


def _judge(view: FamilyView, live: LiveScan, probes: list[Probe], result: ScanResult) -> CheckResult:
    a, b, f = view.analysis, view.baseline, view.family
    evidence: list[Evidence] = []
    failures: list[Evidence] = []
    advisories: list[Evidence] = []
    for address in sorted({p.address for p in probes}):
        ip = ipaddress.ip_address(address)
        sources, stood = _position(view, live, address)
        evidence.append(Evidence.note(stood, title=f"where the scan of {address} stood"))
        # On loopback the real destination would be the host's own address: any destination.
        dst = {} if ip.is_loopback else {"dst": ((int(ip), int(ip)),)}
        for probe in (p for p in probes if p.address == address and p.state == OPEN):
            judged = b.connection_port if probe.port == live.declared_port else probe.port
            query = packets(a, src=sources, proto=protos(["tcp"]), dport=ports([judged]),
                            ct=NOT_ESTABLISHED, iif=not_loopback(a, b.loopback_interfaces), **dst)
            as_port = f" (the declared service port, judged as the baseline's connection port {judged})" \
                if judged != probe.port else ""
            if a.accepted("input", query, 1):
                if probe.port != live.declared_port:
                    advisories.append(Evidence.finding(
                        str(view.path), None, "undocumented-service",
                        f"advisory: {_where(address, probe.port)} answers and the {view.label} ruleset admits it "
                        "from this position; it must be a documented service of the SUT",
                        title="answering port the ruleset admits", address=address, port=probe.port))
                continue
            point = representative(query[0], f)
            entry = a.deciding("input", point)
            rule = entry.rule if entry is not None else None
            failures.append(Evidence.finding(
                str(view.path), rule.line if rule else None, "live-port-dropped-by-ruleset",
                f"{_where(address, probe.port)}{as_port} answered a TCP connect, but the declared "
                f"{view.label} ruleset drops it, at {entry.location if entry else 'its policy'}: the "
                "deployed filter is not the declared one",
                title="port open on the host, dropped by the declared ruleset", address=address,
                port=probe.port, family=f, packet=describe_point(point, a.ifaces, "input", f),
                rule_text=(rule.text if rule else entry.note) if entry else None))
    counts = {s: sum(p.state == s for p in probes) for s in (OPEN, CLOSED, FILTERED)}
    tally = ", ".join(f"{n} {s}" for s, n in counts.items()) + f" of {len(probes)} probes"
    if failures:
        hint = ""
        if any(f.data["port"] == live.declared_port for f in failures) and live.stands_for == "internet":
            hint = ("; the declared service port answered too: if popcert's address was let in for "
                    "this test, scan from a gateway address or set firewall.live.stands_for")
        return CheckResult.failed(
            f"{len(failures)} port(s) answer that the declared ruleset drops ({tally}){hint}",
            *failures[:MAX_EXAMPLES * 4], *evidence, *advisories[:MAX_EXAMPLES], view.note())
    unfinished = sum(1 for p in probes if p.state == "not probed")
    if unfinished:
        return CheckResult.errored(
            f"the scan stopped at its deadline with {unfinished} probe(s) not made ({tally}): raise "
            "firewall.live.deadline_s (and limits.check_s) or scan fewer ports", *evidence, view.note())
    summary = f"every answering port is one the declared ruleset admits from this position ({tally})"
    if advisories:
        summary += f"; advisory: {len(advisories)} answering port(s) besides the declared service"
    return CheckResult.passed(summary, *evidence, *advisories[:MAX_EXAMPLES], view.note())


def _position(view: FamilyView, live: LiveScan, address: str) -> tuple[tuple[tuple[int, int], ...], str]:
    """The sources the scan's packets stand for, and the sentence saying so."""
    b, f = view.baseline, view.family
    source = source_address(address)
    if source is not None:
        ip = ipaddress.ip_address(source)
        for zone in ZONES:
            if any(ip in net for net in b.zone(zone, f)):
                return ((int(ip), int(ip)),), (
                    f"popcert scanned {address} from {source}, in the baseline's {ZONE_NAMES[zone]} zone: "
                    f"packets from {source} are judged")
    if live.stands_for == "internet":
        every_zone = tuple(n for z in ZONES for n in b.zone(z, f))
        sources = outside(cidrs(every_zone, f), Dim.SRC, f)
    else:
        sources = cidrs(b.zone(_STAND_ZONE[live.stands_for], f), f)
    return sources, (
        f"popcert scanned {address} from {source or 'an unknown address'}, which is in no baseline zone: "
        f"the scan stood for {STAND_FOR[live.stands_for]} (firewall.live.stands_for), its packets judged "
        "as arriving on a network interface from any address of that zone")


def _where(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
