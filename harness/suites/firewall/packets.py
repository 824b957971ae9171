"""Packet sets as unions of boxes: the algebra the reachability analysis walks rules with.

A packet is a point in eight integer dimensions; a box is a product of one closed interval per
dimension, stored flat as (lo0, hi0, lo1, hi1, ...). Sets are lists of disjoint boxes. Addresses
are 32-bit for IPv4 and 128-bit for IPv6: one family per analysis, the same algebra for both.
"""

from __future__ import annotations

import enum
import ipaddress
import socket
from collections.abc import Iterable, Sequence

IntervalSet = tuple[tuple[int, int], ...]  # sorted, disjoint, inclusive bounds
Box = tuple[int, ...]  # 2 * len(Dim) ints: lo, hi per dimension


class Dim(enum.IntEnum):
    SRC = 0
    DST = 1
    PROTO = 2
    SPORT = 3
    DPORT = 4  # for ICMP packets this carries the ICMP type (ICMP has no ports)
    IIF = 5  # index into the analysis' interface universe
    OIF = 6
    CT = 7  # index into CT_STATES


CT_STATES = ("new", "established", "related", "invalid", "untracked")
DIM_MAX = {Dim.SRC: 2**32 - 1, Dim.DST: 2**32 - 1, Dim.PROTO: 255, Dim.SPORT: 65535,
           Dim.DPORT: 65535, Dim.CT: len(CT_STATES) - 1}  # IPv4; see dim_maxima for IPv6
FAMILIES = ("ipv4", "ipv6")
ADDRESS_MAX = {"ipv4": 2**32 - 1, "ipv6": 2**128 - 1}
ICMP_PROTO = {"ipv4": 1, "ipv6": 58}  # the family's ICMP: its type rides in the DPORT dimension
NDIM = len(Dim)
PROTO_NUMBERS = {"icmp": 1, "igmp": 2, "tcp": 6, "udp": 17, "gre": 47, "esp": 50, "ah": 51,
                 "icmpv6": 58, "ipv6-icmp": 58, "sctp": 132, "udplite": 136, "dccp": 33}
PROTO_NAMES = {v: k for k, v in reversed(PROTO_NUMBERS.items())}


def dim_maxima(family: str = "ipv4") -> dict[Dim, int]:
    """The upper bound of every fixed dimension for an address family (interfaces excluded)."""
    return {**DIM_MAX, Dim.SRC: ADDRESS_MAX[family], Dim.DST: ADDRESS_MAX[family]}


# ---- interval sets ------------------------------------------------------------------------

def interval_set(intervals: Iterable[tuple[int, int]]) -> IntervalSet:
    """Normalise: sort and merge overlapping or adjacent intervals."""
    merged: list[list[int]] = []
    for lo, hi in sorted(intervals):
        if lo > hi:
            continue
        if merged and lo <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    return tuple((a, b) for a, b in merged)


def complement(values: IntervalSet, maximum: int) -> IntervalSet:
    out: list[tuple[int, int]] = []
    nxt = 0
    for lo, hi in values:
        if lo > nxt:
            out.append((nxt, lo - 1))
        nxt = hi + 1
    if nxt <= maximum:
        out.append((nxt, maximum))
    return tuple(out)


def intersect_sets(a: IntervalSet, b: IntervalSet) -> IntervalSet:
    out = []
    i = j = 0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if lo <= hi:
            out.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return tuple(out)


_AF = {"ipv4": (socket.AF_INET, 32), "ipv6": (socket.AF_INET6, 128)}


def cidr_interval(text: str, family: str = "ipv4") -> tuple[int, int]:
    """'10.0.0.0/8', '10.1.2.3' or (ipv6) '2001:db8::/32' -> inclusive integer range; ValueError
    on anything else, an address of the other family included. (inet_pton, not ipaddress: a
    10,000-rule IPv6 ruleset spends most of its parse time here otherwise.)"""
    af, bits = _AF[family]
    address, slash, prefix = text.strip().partition("/")
    try:
        value = int.from_bytes(socket.inet_pton(af, address), "big")
    except (OSError, UnicodeError):
        raise ValueError(f"not an {family} address: {address!r}") from None
    if not slash:
        return value, value
    if not prefix.isdigit() or not 0 <= int(prefix) <= bits:
        raise ValueError(f"bad prefix length in {text!r}")
    host = (1 << (bits - int(prefix))) - 1
    return value & ~host, value | host


def ip_text(value: int, family: str = "ipv4") -> str:
    return str(ipaddress.IPv4Address(value) if family == "ipv4" else ipaddress.IPv6Address(value))


# ---- boxes --------------------------------------------------------------------------------

def universe(n_ifaces: int, family: str = "ipv4") -> Box:
    fixed = dim_maxima(family)
    maxima = [fixed.get(Dim(d), n_ifaces - 1) for d in range(NDIM)]
    return tuple(v for m in maxima for v in (0, m))


def boxes_from_sets(sets: Sequence[IntervalSet]) -> list[Box]:
    """The product of one interval set per dimension, as disjoint boxes."""
    out: list[list[int]] = [[]]
    for dim_set in sets:
        out = [prefix + [lo, hi] for prefix in out for lo, hi in dim_set]
    return [tuple(b) for b in out]


def overlaps(a: Box, b: Box) -> bool:
    return all(a[k] <= b[k + 1] and b[k] <= a[k + 1] for k in range(0, 2 * NDIM, 2))


def contains_point(box: Box, point: Sequence[int]) -> bool:
    return all(box[2 * d] <= point[d] <= box[2 * d + 1] for d in range(NDIM))


def intersect(a: Box, b: Box) -> Box | None:
    out: list[int] = []
    for k in range(0, 2 * NDIM, 2):
        lo, hi = max(a[k], b[k]), min(a[k + 1], b[k + 1])
        if lo > hi:
            return None
        out += (lo, hi)
    return tuple(out)


def subtract(a: Box, b: Box) -> list[Box]:
    """a minus b as disjoint boxes (at most two per dimension)."""
    if not overlaps(a, b):
        return [a]
    pieces: list[Box] = []
    cur = list(a)
    for k in range(0, 2 * NDIM, 2):
        if cur[k] < b[k]:
            piece = cur.copy()
            piece[k + 1] = b[k] - 1
            pieces.append(tuple(piece))
            cur[k] = b[k]
        if cur[k + 1] > b[k + 1]:
            piece = cur.copy()
            piece[k] = b[k + 1] + 1
            pieces.append(tuple(piece))
            cur[k + 1] = b[k + 1]
    return pieces


def intersect_all(left: Iterable[Box], right: Sequence[Box]) -> list[Box]:
    out = []
    for a in left:
        for b in right:
            c = intersect(a, b)
            if c is not None:
                out.append(c)
    return out


def subtract_all(left: Iterable[Box], right: Iterable[Box]) -> list[Box]:
    rest = list(left)
    for b in right:
        if not rest:
            break
        rest = [piece for a in rest for piece in subtract(a, b)]
    return rest


def bounding(boxes: Sequence[Box]) -> Box:
    return tuple(min(b[k] for b in boxes) if k % 2 == 0 else max(b[k] for b in boxes)
                 for k in range(2 * NDIM))


# Values a person recognises, tried first when a box allows them (an example packet should read
# like traffic, not like 0.0.0.1 with protocol 0).
_NICE = {
    Dim.SRC: tuple(cidr_interval(a)[0] for a in ("198.18.0.10", "100.64.0.10", "172.16.0.10", "10.99.0.10", "8.8.8.8")),
    Dim.DST: tuple(cidr_interval(a)[0] for a in ("198.18.0.20", "100.64.0.20", "172.16.0.20", "10.99.0.20", "1.1.1.1")),
    Dim.PROTO: (6, 17, 1, 58),
    Dim.SPORT: (40000, 1024),
    Dim.DPORT: (443, 22, 80, 8080),
    Dim.CT: (0,),
}
# IPv6: documentation (RFC 3849) and unique-local addresses, then a global one.
_NICE_V6 = {
    Dim.SRC: tuple(cidr_interval(a, "ipv6")[0] for a in ("2001:db8:ffff::10", "fd00:99::10", "2001:4860::8888")),
    Dim.DST: tuple(cidr_interval(a, "ipv6")[0] for a in ("2001:db8:ffff::20", "fd00:99::20", "2606:4700::1111")),
}


def representative(box: Box, family: str = "ipv4") -> tuple[int, ...]:
    """A concrete packet in the box, preferring values that read like real traffic."""
    nice = _NICE if family == "ipv4" else {**_NICE, **_NICE_V6}
    point = []
    for d in range(NDIM):
        lo, hi = box[2 * d], box[2 * d + 1]
        value = next((v for v in nice.get(Dim(d), ()) if lo <= v <= hi), lo)
        if value == lo and d in (Dim.SRC, Dim.DST) and lo % 256 == 0 and lo + 1 <= hi:
            value = lo + 1  # not a network address
        point.append(value)
    return tuple(point)
