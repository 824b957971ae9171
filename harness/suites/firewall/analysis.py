"""Reachability over the whole packet space of a flattened chain, first match wins.

The packets an entry really decides are its match minus every earlier entry that decides them
first. An index on source/destination /24 and /16 (IPv6: /64 and /48) keeps that subtraction to
the few earlier rules that can overlap, so 10,000-rule rulesets stay fast; a witness point settles
most "is it empty?" questions without subtracting anything.
"""

from __future__ import annotations

import bisect
import random
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

from harness.suites.firewall.flatten import (
    Entry,
    Flattened,
    InterfaceUniverse,
    Kind,
    flatten,
)
from harness.suites.firewall.model import Rule, Ruleset
from harness.suites.firewall.packets import (
    NDIM,
    Box,
    Dim,
    bounding,
    contains_point,
    intersect_all,
    overlaps,
    representative,
    subtract_all,
    universe,
)

# (dimension, bits dropped): a box whose address fits one /24 (else /16) goes into that bucket;
# for IPv6 the usual allocation sizes, /64 (a subnet) then /48 (a site).
_LEVELS = {"ipv4": ((Dim.SRC, 8), (Dim.SRC, 16), (Dim.DST, 8), (Dim.DST, 16)),
           "ipv6": ((Dim.SRC, 64), (Dim.SRC, 80), (Dim.DST, 64), (Dim.DST, 80))}


class _Bucket:
    """Boxes in entry order, so 'entries before i' is a bisect."""

    def __init__(self) -> None:
        self.order: list[int] = []
        self.items: list[tuple[int, Box]] = []

    def add(self, j: int, box: Box) -> None:
        self.order.append(j)
        self.items.append((j, box))

    def before(self, i: int) -> list[tuple[int, Box]]:
        return self.items[:bisect.bisect_left(self.order, i)]


class _BoxIndex:
    def __init__(self, entries: list[Entry], family: str = "ipv4") -> None:
        self.shape = _LEVELS[family]
        self.levels: list[dict[int, _Bucket]] = [defaultdict(_Bucket) for _ in self.shape]
        self.wide = _Bucket()
        for j, entry in enumerate(entries):
            for box in entry.boxes:
                self._bucket(box).add(j, box)

    def _bucket(self, box: Box) -> _Bucket:
        for (dim, shift), table in zip(self.shape, self.levels):
            lo, hi = box[2 * dim] >> shift, box[2 * dim + 1] >> shift
            if lo == hi:
                return table[lo]
        return self.wide

    def overlapping(self, query: Box, before: int) -> Iterator[tuple[int, Box]]:
        yield from self.wide.before(before)
        for (dim, shift), table in zip(self.shape, self.levels):
            lo, hi = query[2 * dim] >> shift, query[2 * dim + 1] >> shift
            keys = range(lo, hi + 1) if hi - lo < len(table) else list(table)
            for key in keys:
                bucket = table.get(key)
                if bucket is not None:
                    yield from bucket.before(before)


@dataclass(frozen=True)
class Decision:
    """Packets one entry really decides (after everything before it)."""

    entry: Entry
    boxes: list[Box]


class ChainAnalysis:
    def __init__(self, flat: Flattened, family: str = "ipv4") -> None:
        self.flat = flat
        self.family = family
        self.entries = flat.entries
        self.index = _BoxIndex(self.entries, family)

    def _decides_before(self, j: int, i: int, exact_only: bool) -> bool:
        entry = self.entries[j]
        if entry.approximate and (exact_only or entry.kind == Kind.DROP):
            # Unmodelled conditions: may match less. A drop is then assumed not to fire (so we
            # never under-report what is accepted); for shadowing, it covers nothing.
            return False
        # SKIP entries are markers: flattening already removed returned packets from the rest
        # of their block, so only terminal entries take packets away from later ones.
        return entry.kind in (Kind.ACCEPT, Kind.DROP)

    def _earlier(self, i: int, query: Box, exact_only: bool) -> list[tuple[int, Box]]:
        return [(j, box) for j, box in self.index.overlapping(query, i)
                if overlaps(box, query) and self._decides_before(j, i, exact_only)]

    def effective(self, i: int, within: list[Box] | None = None, exact_only: bool = False) -> list[Box]:
        entry = self.entries[i]
        rest = entry.boxes if within is None else intersect_all(entry.boxes, within)
        if not rest:
            return []
        earlier = self._earlier(i, bounding(rest), exact_only)
        return subtract_all(rest, (box for _, box in earlier))

    def can_match(self, i: int, exact_only: bool = True) -> bool:
        """Is there any packet that reaches entry i? Tries witness points before subtracting."""
        entry = self.entries[i]
        rng = random.Random(i)
        for box in entry.boxes:
            for point in _witnesses(box, rng, self.family):
                probe = tuple(v for p in point for v in (p, p))
                if not any(contains_point(b, point) for _, b in self._earlier(i, probe, exact_only)):
                    return True
        return bool(self.effective(i, exact_only=exact_only))

    def covering(self, i: int) -> list[Entry]:
        """Earlier entries that decide the packets of entry i: those containing a whole box of it
        when there are any (the readable answer), else every earlier entry that overlaps it."""
        whole: dict[int, Entry] = {}
        some: dict[int, Entry] = {}
        for box in self.entries[i].boxes:
            for j, other in self._earlier(i, box, exact_only=True):
                some.setdefault(j, self.entries[j])
                if all(other[k] <= box[k] and box[k + 1] <= other[k + 1] for k in range(0, 2 * NDIM, 2)):
                    whole.setdefault(j, self.entries[j])
        chosen = whole or some
        return [chosen[j] for j in sorted(chosen)]

    def accepted(self, within: list[Box], limit: int | None = None) -> list[Decision]:
        """Entries that accept some packet of `within`, each with exactly those packets."""
        out: list[Decision] = []
        for i, entry in enumerate(self.entries):
            if entry.kind != Kind.ACCEPT or not any(overlaps(a, b) for a in entry.boxes for b in within):
                continue
            boxes = self.effective(i, within)
            if boxes:
                out.append(Decision(entry, boxes))
                if limit is not None and len(out) >= limit:
                    break
        return out


    def deciding(self, point: tuple[int, ...]) -> Entry:
        """The entry that decides one packet: the first exact accept/drop whose packets hold it
        (an approximate drop is assumed not to fire, as everywhere), else the chain's policy."""
        for entry in self.entries:
            if entry.kind not in (Kind.ACCEPT, Kind.DROP) or (entry.approximate and entry.kind == Kind.DROP):
                continue
            if any(contains_point(box, point) for box in entry.boxes):
                return entry
        return self.entries[-1]


def _witnesses(box: Box, rng: random.Random, family: str = "ipv4") -> Iterator[tuple[int, ...]]:
    lows = tuple(box[2 * d] for d in range(NDIM))
    yield lows
    yield tuple(box[2 * d + 1] for d in range(NDIM))
    yield representative(box, family)
    for _ in range(5):
        yield tuple(rng.randint(box[2 * d], box[2 * d + 1]) for d in range(NDIM))


@dataclass(frozen=True)
class ShadowFinding:
    rule: Rule
    kind: str  # "shadowed" (earlier rules decide otherwise) or "redundant" (they decide the same)
    covered_by: tuple[Rule, ...]


class RulesetAnalysis:
    """Every base chain of interest, flattened and indexed once."""

    HOOKS = ("input", "forward", "output")

    def __init__(self, ruleset: Ruleset, extra_ifaces: tuple[str, ...] = ("lo",)) -> None:
        self.ruleset = ruleset
        self.family = ruleset.family
        self.ifaces = InterfaceUniverse(ruleset, extra_ifaces)
        self.chains: dict[str, list[ChainAnalysis]] = {
            hook: [ChainAnalysis(flatten(ruleset, c, self.ifaces), self.family)
                   for c in ruleset.base_chains(hook)]
            for hook in self.HOOKS}

    @property
    def universe(self) -> Box:
        return universe(len(self.ifaces), self.family)

    def deciding(self, hook: str, point: tuple[int, ...]) -> Entry | None:
        """The rule (or policy) that drops one packet on the hook; None when every chain accepts it."""
        for chain in self.chains[hook]:
            entry = chain.deciding(point)
            if entry.kind == Kind.DROP:
                return entry
        return None

    def accepted(self, hook: str, within: list[Box], limit: int | None = None) -> list[Decision]:
        """What passes the hook: every base chain on it must accept (nft runs them in priority order)."""
        chains = self.chains[hook]
        if not chains:
            return [Decision(Entry(None, Kind.ACCEPT, within, note=f"no filter chain on the {hook} hook"), within)]
        decisions: list[Decision] = []
        for n, chain in enumerate(chains):
            last = n == len(chains) - 1
            decisions = chain.accepted(within, limit if last else None)
            within = [b for d in decisions for b in d.boxes]
            if not within:
                return []
        return decisions

    def shadowed(self) -> list[ShadowFinding]:
        """Rules no packet can reach in any place they are inlined (exact rules only)."""
        reachable: set[tuple[str, int]] = set()
        candidates: dict[tuple[str, int], tuple[Rule, ChainAnalysis, int]] = {}
        for analyses in self.chains.values():
            for chain in analyses:
                for i, entry in enumerate(chain.entries):
                    rule = entry.rule
                    if rule is None or rule.approximate:
                        continue
                    key = (rule.chain, rule.position)
                    if key in reachable:
                        continue
                    if chain.can_match(i):
                        reachable.add(key)
                        candidates.pop(key, None)
                    else:
                        candidates.setdefault(key, (rule, chain, i))
        findings = []
        for rule, chain, i in sorted(candidates.values(), key=lambda c: (c[0].line, c[0].position)):
            entry = chain.entries[i]
            cover = chain.covering(i)
            same = entry.kind in (Kind.ACCEPT, Kind.DROP) and all(c.kind == entry.kind for c in cover)
            findings.append(ShadowFinding(rule, "redundant" if same and cover else "shadowed",
                                          tuple(c.rule for c in cover if c.rule is not None)))
        return findings
