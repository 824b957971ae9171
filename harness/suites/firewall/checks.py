"""The firewall suite: static analysis of the vendor's ruleset against the national baseline.

Every check asks a question about the whole packet space (not about rule strings) and answers a
"no" with a concrete packet and the rule that lets it through.
"""

from __future__ import annotations

from harness.checks import CheckResult, Evidence, Severity, check
from harness.suites.firewall import FirewallContext
from harness.suites.firewall.analysis import Decision
from harness.suites.firewall.flatten import Kind
from harness.suites.firewall.packets import Dim, subtract_all
from harness.suites.firewall.queries import (
    NOT_ESTABLISHED,
    cidrs,
    describe,
    not_loopback,
    outside,
    packet_text,
    packets,
    ports,
    protos,
)

MAX_EXAMPLES = 5  # counterexamples kept per check: enough to act on, short enough to read


def _offending(ctx: FirewallContext, decisions: list[Decision], hook: str, why: str) -> list[Evidence]:
    out = []
    for decision in decisions[:MAX_EXAMPLES]:
        packet = describe(decision.boxes[0], ctx.analysis.ifaces, hook)
        rule = decision.entry.rule
        out.append(Evidence.finding(
            str(ctx.ruleset_path), rule.line if rule else None, "counterexample",
            f"{why}: {packet_text(packet)} is accepted by {decision.entry.location}",
            title="counterexample packet", packet=packet, hook=hook,
            rule_text=rule.text if rule else decision.entry.note))
    return out


def _ruleset_note(ctx: FirewallContext) -> Evidence:
    rs = ctx.analysis.ruleset
    text = f"{rs.format} ruleset {ctx.ruleset_path}: {rs.rule_count} rules; baseline {ctx.baseline.version}"
    if rs.notes:
        text += "; not analysed: " + "; ".join(rs.notes[:5])
    return Evidence.note(text, title="ruleset")


@check("FW-DEFAULT-DENY", suite="firewall", severity=Severity.HIGH, defect="firewall.default_accept",
       requirements=["FW-BASELINE-DEFAULT-DENY", "NIST-800-53-SC-7-5"])
def default_deny_inbound(ctx: FirewallContext) -> CheckResult:
    """Inbound traffic is denied by default"""
    chains = ctx.analysis.chains["input"]
    if not chains:
        return CheckResult.failed("no filter chain on the input hook: every inbound packet is accepted",
                                  _ruleset_note(ctx))
    examples = []
    for chain in chains:
        last = len(chain.entries) - 1
        if chain.entries[last].kind == Kind.DROP:
            return CheckResult.passed(f"{chain.flat.chain.name} policy is DROP", _ruleset_note(ctx))
        rest = chain.effective(last)
        if not rest:
            return CheckResult.passed(f"{chain.flat.chain.name} ends in a catch-all drop", _ruleset_note(ctx))
        examples.append(Decision(chain.entries[last], rest))
    return CheckResult.failed(
        "inbound packets that no rule decides are accepted by the default policy",
        *_offending(ctx, examples, "input", "accepted only by the default ACCEPT policy"), _ruleset_note(ctx))


@check("FW-INBOUND-GATEWAY-ONLY", suite="firewall", severity=Severity.CRITICAL,
       defect="firewall.inbound_not_restricted",
       requirements=["FW-BASELINE-INBOUND-GATEWAY"])
def inbound_gateway_only(ctx: FirewallContext) -> CheckResult:
    """Only the national gateways can open connections to the connection port"""
    a, b = ctx.analysis, ctx.baseline
    gateways = cidrs(b.gateway_cidrs)
    common = dict(proto=protos(["tcp"]), dport=ports([b.connection_port]), ct=NOT_ESTABLISHED,
                  iif=not_loopback(a, b.loopback_interfaces))
    leaks = a.accepted("input", packets(a, src=outside(gateways, Dim.SRC), **common), MAX_EXAMPLES)
    if leaks:
        return CheckResult.failed(
            f"connections to port {b.connection_port} are accepted from outside the gateway CIDRs",
            *_offending(ctx, leaks, "input", "source outside the gateways"), _ruleset_note(ctx))
    if not a.accepted("input", packets(a, src=gateways, **common), 1):
        return CheckResult.failed(f"the gateways cannot open connections to port {b.connection_port} at all",
                                  _ruleset_note(ctx))
    return CheckResult.passed(f"port {b.connection_port} accepts new connections from the gateways only",
                              _ruleset_note(ctx))


@check("FW-ADMIN-PORTS", suite="firewall", severity=Severity.CRITICAL, defect="firewall.ssh_open",
       requirements=["FW-BASELINE-ADMIN-PORTS"])
def admin_ports_management_only(ctx: FirewallContext) -> CheckResult:
    """Administration ports are reachable from the management network only"""
    a, b = ctx.analysis, ctx.baseline
    query = packets(a, src=outside(cidrs(b.management_cidrs), Dim.SRC), proto=protos(["tcp", "udp"]),
                    dport=ports(b.admin_ports), ct=NOT_ESTABLISHED, iif=not_loopback(a, b.loopback_interfaces))
    leaks = a.accepted("input", query, MAX_EXAMPLES)
    if leaks:
        return CheckResult.failed("an administration port is reachable from outside the management network",
                                  *_offending(ctx, leaks, "input", "admin port from outside management"),
                                  _ruleset_note(ctx))
    return CheckResult.passed(f"ports {', '.join(map(str, b.admin_ports))} only from management",
                              _ruleset_note(ctx))


@check("FW-EGRESS-NPDB", suite="firewall", severity=Severity.HIGH, defect="firewall.egress_open",
       requirements=["FW-BASELINE-EGRESS-NPDB"])
def egress_npdb_only(ctx: FirewallContext) -> CheckResult:
    """Outbound connections go to the NPDB from the connection servers only"""
    a, b = ctx.analysis, ctx.baseline
    # The host's own egress is the OUTPUT hook; forwarded traffic is FW-NO-ANY-ANY's concern.
    oif = not_loopback(a, b.loopback_interfaces)
    npdb = dict(dst=cidrs(b.npdb_egress.cidrs), proto=protos(["tcp"]), dport=ports([b.npdb_egress.port]))
    servers = cidrs(b.connection_servers)
    evidence: list[Evidence] = []
    wrong_source = a.accepted("output", packets(a, src=outside(servers, Dim.SRC), ct=NOT_ESTABLISHED,
                                                oif=oif, **npdb), MAX_EXAMPLES)
    evidence += _offending(ctx, wrong_source, "output", "NPDB connection from a non-connection-server source")
    allowed = packets(a, **npdb)
    for allowance in b.egress_allowed:
        allowed += packets(a, dst=cidrs(allowance.cidrs), proto=protos(allowance.protocols),
                           **({"dport": ports(allowance.ports)} if allowance.ports else {}))
    elsewhere = subtract_all(packets(a, ct=NOT_ESTABLISHED, oif=oif), allowed)
    open_egress = a.accepted("output", elsewhere, MAX_EXAMPLES)
    evidence += _offending(ctx, open_egress, "output", "new outbound connection the baseline does not allow")
    if evidence:
        return CheckResult.failed("outbound connections are allowed beyond the NPDB and the baseline's allowances",
                                  *evidence, _ruleset_note(ctx))
    if not a.accepted("output", packets(a, src=servers, ct=NOT_ESTABLISHED, oif=oif, **npdb), 1):
        return CheckResult.failed("the connection servers cannot reach the NPDB on "
                                  f"port {b.npdb_egress.port}", _ruleset_note(ctx))
    return CheckResult.passed("new outbound connections: NPDB from the connection servers, and "
                              f"{', '.join(x.name for x in b.egress_allowed) or 'nothing else'}",
                              _ruleset_note(ctx))


@check("FW-NO-ANY-ANY", suite="firewall", severity=Severity.HIGH, defect="firewall.any_any",
       requirements=["FW-BASELINE-DEFAULT-DENY", "NIST-800-53-SC-7-5"])
def no_any_any(ctx: FirewallContext) -> CheckResult:
    """No any-to-any accept rule"""
    a, b = ctx.analysis, ctx.baseline
    real_ifaces = not_loopback(a, b.loopback_interfaces)
    found: list[Evidence] = []
    for hook in ("input", "forward"):
        for chain in a.chains[hook]:
            for i, entry in enumerate(chain.entries):
                is_policy = entry.rule is None
                if entry.kind != Kind.ACCEPT or (is_policy and hook == "input"):
                    continue  # INPUT's default policy is FW-DEFAULT-DENY's question
                box = next((x for x in entry.boxes if _any_any(x, real_ifaces)), None)
                if box is None or (is_policy and not chain.effective(i)):
                    continue
                where = entry.rule.line if entry.rule else None
                found.append(Evidence.finding(
                    str(ctx.ruleset_path), where, "any-any",
                    f"{entry.location} accepts any source, destination, protocol and port in {hook}",
                    rule_text=entry.rule.text if entry.rule else entry.note, hook=hook))
    if found:
        return CheckResult.failed("an accept rule matches any source, destination and port",
                                  *found[:MAX_EXAMPLES], _ruleset_note(ctx))
    return CheckResult.passed("no any-to-any accept in INPUT or FORWARD", _ruleset_note(ctx))


def _any_any(box: tuple[int, ...], real_ifaces: tuple[tuple[int, int], ...]) -> bool:
    full = all(box[2 * d] == 0 and box[2 * d + 1] == hi for d, hi in
               ((Dim.SRC, 2**32 - 1), (Dim.DST, 2**32 - 1), (Dim.PROTO, 255), (Dim.SPORT, 65535),
                (Dim.DPORT, 65535)))
    new = box[2 * Dim.CT] == 0  # CT index 0 is "new": the rule opens connections
    iface = any(lo <= box[2 * Dim.IIF + 1] and box[2 * Dim.IIF] <= hi for lo, hi in real_ifaces)
    return full and new and iface


@check("FW-SHADOWED-RULES", suite="firewall", severity=Severity.LOW, defect="firewall.shadowed_rule",
       requirements=["ALSHAER-POLICY-ANOMALIES"])
def no_shadowed_rules(ctx: FirewallContext) -> CheckResult:
    """No shadowed or redundant rules"""
    findings = ctx.analysis.shadowed()
    evidence = [Evidence.finding(
        str(ctx.ruleset_path), f.rule.line, f.kind,
        f"{f.rule.location} can never match: " + (
            "earlier rules " + ", ".join(r.location for r in f.covered_by[:5]) + (
                " already decide the same way" if f.kind == "redundant" else " decide its packets first")
            if f.covered_by else "the conditions that lead to it exclude it"),
        rule_text=f.rule.text, covered_by=[r.text for r in f.covered_by[:5]]) for f in findings]
    if evidence:
        return CheckResult.failed(f"{len(findings)} rule(s) can never match", *evidence[:20],
                                  _ruleset_note(ctx), shadowed=float(len(findings)))
    return CheckResult.passed("every rule can match some packet", _ruleset_note(ctx), shadowed=0.0)
