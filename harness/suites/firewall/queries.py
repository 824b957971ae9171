"""Packet sets the checks ask about, built from the baseline, and packets written for people.

Every helper takes the analysis (one address family) so the same question reads the same for
IPv4 and IPv6; networks of the other family are ignored.
"""

from __future__ import annotations

from collections.abc import Iterable
from ipaddress import IPv4Network, IPv6Network
from typing import Any

from harness.suites.firewall.analysis import RulesetAnalysis
from harness.suites.firewall.flatten import InterfaceUniverse
from harness.suites.firewall.model import IfaceMatch
from harness.suites.firewall.packets import (
    CT_STATES,
    NDIM,
    PROTO_NAMES,
    PROTO_NUMBERS,
    Box,
    Dim,
    IntervalSet,
    boxes_from_sets,
    complement,
    dim_maxima,
    interval_set,
    ip_text,
    representative,
)

# A connection attempt: anything conntrack does not already know as part of an allowed flow.
NOT_ESTABLISHED: IntervalSet = interval_set((CT_STATES.index(s),) * 2 for s in ("new", "invalid", "untracked"))


def cidrs(networks: Iterable[IPv4Network | IPv6Network], family: str = "ipv4") -> IntervalSet:
    version = 4 if family == "ipv4" else 6
    return interval_set((int(n.network_address), int(n.broadcast_address))
                        for n in networks if n.version == version)


def protos(names: Iterable[str]) -> IntervalSet:
    return interval_set((PROTO_NUMBERS[n],) * 2 for n in names)


def ports(values: Iterable[int]) -> IntervalSet:
    return interval_set((p, p) for p in values)


def outside(values: IntervalSet, dim: Dim, family: str = "ipv4") -> IntervalSet:
    return complement(values, dim_maxima(family)[dim])


def packets(analysis: RulesetAnalysis, **dims: IntervalSet) -> list[Box]:
    """Boxes for the given dimensions (names as in Dim, lower case); any value elsewhere."""
    n = len(analysis.ifaces)
    maxima = dim_maxima(analysis.family)
    sets: list[IntervalSet] = [((0, maxima.get(Dim(d), n - 1)),) for d in range(NDIM)]
    for name, values in dims.items():
        sets[Dim[name.upper()]] = values
    return boxes_from_sets(sets)


def not_loopback(analysis: RulesetAnalysis, names: Iterable[str]) -> IntervalSet:
    return analysis.ifaces.indices(IfaceMatch(tuple(names), negated=True))


def describe(box: Box, ifaces: InterfaceUniverse, hook: str, family: str = "ipv4") -> dict[str, Any]:
    """One concrete packet from a box, as an assessor would write it."""
    return describe_point(representative(box, family), ifaces, hook, family)


def describe_point(point: tuple[int, ...], ifaces: InterfaceUniverse, hook: str,
                   family: str = "ipv4") -> dict[str, Any]:
    proto = point[Dim.PROTO]
    packet: dict[str, Any] = {
        "family": family, "src": ip_text(point[Dim.SRC], family), "dst": ip_text(point[Dim.DST], family),
        "proto": PROTO_NAMES.get(proto, str(proto)), "ct_state": CT_STATES[point[Dim.CT]]}
    if proto in (1, 58):
        packet["icmp_type"] = point[Dim.DPORT]
    elif proto in (6, 17, 33, 132, 136):
        packet["sport"], packet["dport"] = point[Dim.SPORT], point[Dim.DPORT]
    if hook in ("input", "forward"):
        packet["iface_in"] = _iface(ifaces.names[point[Dim.IIF]])
    if hook in ("output", "forward"):
        packet["iface_out"] = _iface(ifaces.names[point[Dim.OIF]])
    return packet


def _iface(name: str) -> str:
    return "(any interface the ruleset does not name)" if name.startswith("~") else name


def packet_text(packet: dict[str, Any]) -> str:
    dst = f"[{packet['dst']}]" if packet.get("family") == "ipv6" and "dport" in packet else packet["dst"]
    port = f":{packet['dport']}" if "dport" in packet else (
        f" icmp-type {packet['icmp_type']}" if "icmp_type" in packet else "")
    iface = packet.get("iface_in") or packet.get("iface_out") or ""
    return f"{packet['proto']} {packet['src']} -> {dst}{port} ({packet['ct_state']}, {iface})"
