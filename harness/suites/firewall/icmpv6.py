"""FW-ICMPV6-ESSENTIAL: an IPv6 policy must let through the ICMPv6 that IPv6 cannot work without.

Dropping all ICMPv6 (a habit carried over from "block ping" in IPv4) breaks neighbour discovery,
so the host cannot reach its router, and path MTU discovery, so large replies stall (RFC 4890).
"""

from __future__ import annotations

from harness.checks import CheckResult, Severity, check
from harness.suites.firewall.checks import IPV6_MISSING
from harness.suites.firewall.context import FirewallContext
from harness.suites.firewall.families import FamilyView, per_family
from harness.suites.firewall.queries import not_loopback, packets, ports, protos

ICMPV6_NAMES = {1: "destination unreachable", 2: "packet too big", 3: "time exceeded",
                4: "parameter problem", 133: "router solicitation", 134: "router advertisement",
                135: "neighbour solicitation", 136: "neighbour advertisement"}


@check("FW-ICMPV6-ESSENTIAL", severity=Severity.MEDIUM,
       defect=("firewall.icmpv6_dropped", IPV6_MISSING),
       requirements=["FW-BASELINE-ICMPV6", "RFC4890-ICMPV6-FILTERING", "FW-BASELINE-DUAL-STACK"])
def icmpv6_essential(ctx: FirewallContext) -> CheckResult:
    """The IPv6 policy accepts the ICMPv6 that neighbour discovery and path MTU discovery need."""
    return per_family(ctx, _icmpv6_essential,
                      applies=lambda f: "ICMPv6 concerns the IPv6 policy only" if f == "ipv4" else None)


def _icmpv6_essential(view: FamilyView) -> CheckResult:
    a, b = view.analysis, view.baseline
    required = {"input": b.icmpv6_required.input, "output": b.icmpv6_required.output}
    dropped: list[str] = []
    for hook, types in required.items():
        iface = {"iif" if hook == "input" else "oif": not_loopback(a, b.loopback_interfaces)}
        for icmp_type in types:
            query = packets(a, proto=protos(["icmpv6"]), dport=ports([icmp_type]), **iface)
            if not a.accepted(hook, query, 1):
                dropped.append(f"{hook} type {icmp_type} ({ICMPV6_NAMES.get(icmp_type, 'ICMPv6')})")
    if dropped:
        return CheckResult.failed(
            "ICMPv6 that IPv6 needs is dropped from every source: " + ", ".join(dropped)
            + " (neighbour discovery and path MTU discovery break)", view.note())
    return CheckResult.passed("ICMPv6 packet-too-big and neighbour discovery are accepted", view.note())
