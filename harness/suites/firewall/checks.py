"""The firewall suite: static analysis of the vendor's ruleset against the national baseline.

Every check asks a question about the whole packet space (not about rule strings), for each
address family the ruleset holds, and answers a "no" with a concrete packet and the rule that
lets it through.
"""

from __future__ import annotations

from harness.checks import CheckResult, Evidence, Severity, check
from harness.suites.firewall.analysis import Decision
from harness.suites.firewall.context import FirewallContext
from harness.suites.firewall.families import MAX_EXAMPLES, FamilyView, per_family
from harness.suites.firewall.flatten import Kind
from harness.suites.firewall.packets import Dim, dim_maxima, subtract_all
from harness.suites.firewall.queries import (
    NOT_ESTABLISHED,
    cidrs,
    not_loopback,
    outside,
    packets,
    ports,
    protos,
)

# Every check below declares firewall.ipv6_missing too: a dual-stack SUT whose IPv6 policy is not
# given is an `error` of every check (tests/integration/test_detection_matrix.py, ERROR_SWITCHES).
IPV6_MISSING = "firewall.ipv6_missing"


@check("FW-DEFAULT-DENY", severity=Severity.HIGH,
       defect=("firewall.default_accept", IPV6_MISSING),
       requirements=["FW-BASELINE-DEFAULT-DENY", "NIST-800-53-SC-7-5", "FW-BASELINE-DUAL-STACK"])
def default_deny_inbound(ctx: FirewallContext) -> CheckResult:
    """Inbound traffic is denied by default."""
    return per_family(ctx, _default_deny)


def _default_deny(view: FamilyView) -> CheckResult:
    chains = view.analysis.chains["input"]
    if not chains:
        return CheckResult.failed("no filter chain on the input hook: every inbound packet is accepted",
                                  view.note())
    examples = []
    for chain in chains:
        last = len(chain.entries) - 1
        if chain.entries[last].kind == Kind.DROP:
            return CheckResult.passed(f"{chain.flat.chain.name} policy is DROP", view.note())
        rest = chain.effective(last)
        if not rest:
            return CheckResult.passed(f"{chain.flat.chain.name} ends in a catch-all drop", view.note())
        examples.append(Decision(chain.entries[last], rest))
    return CheckResult.failed(
        "inbound packets that no rule decides are accepted by the default policy",
        *view.offending(examples, "input", "accepted only by the default ACCEPT policy"), view.note())


@check("FW-INBOUND-GATEWAY-ONLY", severity=Severity.CRITICAL,
       defect=("firewall.inbound_not_restricted", "firewall.ipv6_open", IPV6_MISSING),
       requirements=["FW-BASELINE-INBOUND-GATEWAY", "FW-BASELINE-DUAL-STACK"])
def inbound_gateway_only(ctx: FirewallContext) -> CheckResult:
    """Only the national gateways can open connections to the connection port."""
    return per_family(ctx, _inbound_gateway_only)


def _inbound_gateway_only(view: FamilyView) -> CheckResult:
    a, b, f = view.analysis, view.baseline, view.family
    gateways = cidrs(b.gateway_cidrs, f)
    common = {"proto": protos(["tcp"]), "dport": ports([b.connection_port]), "ct": NOT_ESTABLISHED,
              "iif": not_loopback(a, b.loopback_interfaces)}
    leaks = a.accepted("input", packets(a, src=outside(gateways, Dim.SRC, f), **common), MAX_EXAMPLES)
    if leaks:
        return CheckResult.failed(
            f"connections to port {b.connection_port} are accepted from outside the gateway CIDRs",
            *view.offending(leaks, "input", "source outside the gateways"), view.note())
    if not a.accepted("input", packets(a, src=gateways, **common), 1):
        return CheckResult.failed(f"the gateways cannot open connections to port {b.connection_port} at all",
                                  view.note())
    return CheckResult.passed(f"port {b.connection_port} accepts new connections from the gateways only",
                              view.note())


@check("FW-ADMIN-PORTS", severity=Severity.CRITICAL,
       defect=("firewall.ssh_open", "firewall.ipv6_open", IPV6_MISSING),
       requirements=["FW-BASELINE-ADMIN-PORTS", "FW-BASELINE-DUAL-STACK"])
def admin_ports_management_only(ctx: FirewallContext) -> CheckResult:
    """Administration ports are reachable from the management network only."""
    return per_family(ctx, _admin_ports)


def _admin_ports(view: FamilyView) -> CheckResult:
    a, b, f = view.analysis, view.baseline, view.family
    query = packets(a, src=outside(cidrs(b.management_cidrs, f), Dim.SRC, f), proto=protos(["tcp", "udp"]),
                    dport=ports(b.admin_ports), ct=NOT_ESTABLISHED, iif=not_loopback(a, b.loopback_interfaces))
    leaks = a.accepted("input", query, MAX_EXAMPLES)
    if leaks:
        return CheckResult.failed("an administration port is reachable from outside the management network",
                                  *view.offending(leaks, "input", "admin port from outside management"),
                                  view.note())
    return CheckResult.passed(f"ports {', '.join(map(str, b.admin_ports))} only from management",
                              view.note())


@check("FW-EGRESS-NPDB", severity=Severity.HIGH,
       defect=("firewall.egress_open", "firewall.ipv6_open", IPV6_MISSING),
       requirements=["FW-BASELINE-EGRESS-NPDB", "FW-BASELINE-DUAL-STACK"])
def egress_npdb_only(ctx: FirewallContext) -> CheckResult:
    """Outbound connections go to the NPDB from the connection servers only."""
    return per_family(ctx, _egress_npdb_only)


def _egress_npdb_only(view: FamilyView) -> CheckResult:
    a, b, f = view.analysis, view.baseline, view.family
    # The host's own egress is the OUTPUT hook; forwarded traffic is FW-NO-ANY-ANY's concern.
    oif = not_loopback(a, b.loopback_interfaces)
    npdb = {"dst": cidrs(b.npdb_egress.cidrs, f), "proto": protos(["tcp"]), "dport": ports([b.npdb_egress.port])}
    servers = cidrs(b.connection_servers, f)
    evidence: list[Evidence] = []
    wrong_source = a.accepted("output", packets(a, src=outside(servers, Dim.SRC, f), ct=NOT_ESTABLISHED,
                                                oif=oif, **npdb), MAX_EXAMPLES)
    evidence += view.offending(wrong_source, "output", "NPDB connection from a non-connection-server source")
    allowed = packets(a, **npdb)
    for allowance in b.egress_allowed:
        networks = cidrs(allowance.cidrs, f)
        if networks:
            allowed += packets(a, dst=networks, proto=protos(allowance.protocols),
                               **({"dport": ports(allowance.ports)} if allowance.ports else {}))
    elsewhere = subtract_all(packets(a, ct=NOT_ESTABLISHED, oif=oif), allowed)
    open_egress = a.accepted("output", elsewhere, MAX_EXAMPLES)
    evidence += view.offending(open_egress, "output", "new outbound connection the baseline does not allow")
    if evidence:
        return CheckResult.failed("outbound connections are allowed beyond the NPDB and the baseline's allowances",
                                  *evidence, view.note())
    if not a.accepted("output", packets(a, src=servers, ct=NOT_ESTABLISHED, oif=oif, **npdb), 1):
        return CheckResult.failed("the connection servers cannot reach the NPDB on "
                                  f"port {b.npdb_egress.port}", view.note())
    names = [x.name for x in b.egress_allowed if cidrs(x.cidrs, f)]
    return CheckResult.passed("new outbound connections: NPDB from the connection servers, and "
                              f"{', '.join(names) or 'nothing else'}", view.note())


@check("FW-NO-ANY-ANY", severity=Severity.HIGH,
       defect=("firewall.any_any", "firewall.ipv6_open", IPV6_MISSING),
       requirements=["FW-BASELINE-DEFAULT-DENY", "NIST-800-53-SC-7-5", "FW-BASELINE-DUAL-STACK"])
def no_any_any(ctx: FirewallContext) -> CheckResult:
    """No any-to-any accept rule."""
    return per_family(ctx, _no_any_any)


def _no_any_any(view: FamilyView) -> CheckResult:
    a, b = view.analysis, view.baseline
    real_ifaces = not_loopback(a, b.loopback_interfaces)
    found: list[Evidence] = []
    for hook in ("input", "forward"):
        for chain in a.chains[hook]:
            for i, entry in enumerate(chain.entries):
                is_policy = entry.rule is None
                if entry.kind != Kind.ACCEPT or (is_policy and hook == "input"):
                    continue  # INPUT's default policy is FW-DEFAULT-DENY's question
                box = next((x for x in entry.boxes if _any_any(x, real_ifaces, view.family)), None)
                if box is None or (is_policy and not chain.effective(i)):
                    continue
                where = entry.rule.line if entry.rule else None
                found.append(Evidence.finding(
                    str(view.path), where, "any-any",
                    f"{view.label}: {entry.location} accepts any source, destination, protocol and port in {hook}",
                    rule_text=entry.rule.text if entry.rule else entry.note, hook=hook, family=view.family))
    if found:
        return CheckResult.failed("an accept rule matches any source, destination and port",
                                  *found[:MAX_EXAMPLES], view.note())
    return CheckResult.passed("no any-to-any accept in INPUT or FORWARD", view.note())


def _any_any(box: tuple[int, ...], real_ifaces: tuple[tuple[int, int], ...], family: str) -> bool:
    maxima = dim_maxima(family)
    full = all(box[2 * d] == 0 and box[2 * d + 1] == maxima[d]
               for d in (Dim.SRC, Dim.DST, Dim.PROTO, Dim.SPORT, Dim.DPORT))
    new = box[2 * Dim.CT] == 0  # CT index 0 is "new": the rule opens connections
    iface = any(lo <= box[2 * Dim.IIF + 1] and box[2 * Dim.IIF] <= hi for lo, hi in real_ifaces)
    return full and new and iface


@check("FW-SHADOWED-RULES", severity=Severity.LOW,
       defect=("firewall.shadowed_rule", "firewall.ipv6_open", IPV6_MISSING),
       requirements=["ALSHAER-POLICY-ANOMALIES", "FW-BASELINE-DUAL-STACK"])
def no_shadowed_rules(ctx: FirewallContext) -> CheckResult:
    """No shadowed or redundant rules."""
    return per_family(ctx, _no_shadowed_rules)


def _no_shadowed_rules(view: FamilyView) -> CheckResult:
    findings = view.analysis.shadowed()
    evidence = [Evidence.finding(
        str(view.path), f.rule.line, f.kind,
        f"{view.label}: {f.rule.location} can never match: " + (
            "earlier rules " + ", ".join(r.location for r in f.covered_by[:5]) + (
                " already decide the same way" if f.kind == "redundant" else " decide its packets first")
            if f.covered_by else "the conditions that lead to it exclude it"),
        rule_text=f.rule.text, covered_by=[r.text for r in f.covered_by[:5]], family=view.family)
        for f in findings]
    if evidence:
        return CheckResult.failed(f"{len(findings)} rule(s) can never match", *evidence[:20],
                                  view.note(), shadowed=float(len(findings)))
    return CheckResult.passed("every rule can match some packet", view.note(), shadowed=0.0)
