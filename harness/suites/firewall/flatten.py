"""Inline a base chain's jumps into one first-match list of entries.

Each entry carries the packets that reach its rule's test (the jump conditions on the way in,
intersected with the rule's own match). After a RETURN, the rest of its inlined block sees only the
packets that did not return; a goto's fall-through likewise leaves the calling block.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from harness.suites.firewall.model import (
    Action,
    Chain,
    IfaceMatch,
    Rule,
    Ruleset,
    RulesetParseError,
)
from harness.suites.firewall.packets import (
    NDIM,
    Box,
    Dim,
    IntervalSet,
    boxes_from_sets,
    complement,
    dim_maxima,
    intersect_all,
    interval_set,
    subtract_all,
    universe,
)

MAX_ENTRIES = 500_000  # a chain called from everywhere can explode when inlined: refuse, do not hang
OTHER_IFACE = "~other"  # stands for every interface the ruleset never names


class Kind(enum.StrEnum):
    ACCEPT = "accept"
    DROP = "drop"  # drop and reject: the packet does not pass
    LOG = "log"  # non-terminal (log, counter, continue)
    JUMP = "jump"  # marker only: the callee's entries follow it
    SKIP = "skip"  # RETURN from a user chain (marker: later rules of the block already exclude it)


@dataclass
class Entry:
    rule: Rule | None  # None for the chain's default policy and implicit goto returns
    kind: Kind
    boxes: list[Box]
    approximate: bool = False
    note: str = ""

    @property
    def location(self) -> str:
        return self.rule.location if self.rule else self.note


@dataclass
class Flattened:
    chain: Chain
    entries: list[Entry] = field(default_factory=list)


class InterfaceUniverse:
    """Every interface name the ruleset mentions, one representative per wildcard, and 'other'."""

    def __init__(self, ruleset: Ruleset, extra: tuple[str, ...] = ()) -> None:
        names: set[str] = set(extra) | {OTHER_IFACE}
        for chain in ruleset.chains.values():
            for rule in chain.rules:
                for iface in (rule.iif, rule.oif):
                    for name in iface.names if iface else ():
                        names.add(name[:-1] + "*" if name.endswith(("+", "*")) else name)
        self.names = sorted(names)

    def __len__(self) -> int:
        return len(self.names)

    def indices(self, match: IfaceMatch) -> IntervalSet:
        hits = [i for i, name in enumerate(self.names) if any(_iface_matches(p, name) for p in match.names)]
        values = interval_set((i, i) for i in hits)
        return complement(values, len(self.names) - 1) if match.negated else values


def _iface_matches(pattern: str, name: str) -> bool:
    if pattern.endswith(("+", "*")):
        return name.startswith(pattern[:-1]) and name != OTHER_IFACE
    return pattern == name


def rule_boxes(rule: Rule, ifaces: InterfaceUniverse, family: str = "ipv4") -> list[Box]:
    if rule.family not in (None, family):
        return []
    maxima = dim_maxima(family)
    full = {d: ((0, maxima.get(d, len(ifaces) - 1)),) for d in Dim}
    sets: list[IntervalSet] = [full[Dim(d)] for d in range(NDIM)]
    for dim, value in ((Dim.SRC, rule.src), (Dim.DST, rule.dst), (Dim.PROTO, rule.proto),
                       (Dim.SPORT, rule.sport), (Dim.DPORT, rule.dport), (Dim.CT, rule.ct)):
        if value is not None:
            sets[dim] = value
    if rule.iif is not None:
        sets[Dim.IIF] = ifaces.indices(rule.iif)
    if rule.oif is not None:
        sets[Dim.OIF] = ifaces.indices(rule.oif)
    return boxes_from_sets(sets)


def flatten(ruleset: Ruleset, chain: Chain, ifaces: InterfaceUniverse) -> Flattened:
    out = Flattened(chain)
    everything = [universe(len(ifaces), ruleset.family)]
    policy = Kind.ACCEPT if chain.policy in (None, Action.ACCEPT) else Kind.DROP
    _block(ruleset, chain, everything, (chain.name,), out.entries, ifaces, policy, builtin=True)
    out.entries.append(Entry(None, policy, everything, note=f"{chain.name} policy {policy}"))
    return out


def _block(ruleset: Ruleset, chain: Chain, cond: list[Box], stack: tuple[str, ...],
           entries: list[Entry], ifaces: InterfaceUniverse, policy: Kind, builtin: bool) -> None:
    for rule in chain.rules:
        if rule.family not in (None, ruleset.family):
            continue  # an nft inet rule for the other address family
        if len(entries) > MAX_ENTRIES:
            raise RulesetParseError(ruleset.path, rule.line,
                                    f"more than {MAX_ENTRIES} rules once jumps are inlined")
        match = intersect_all(cond, rule_boxes(rule, ifaces, ruleset.family))
        action = rule.action
        if action in (Action.ACCEPT, Action.DROP, Action.REJECT):
            kind = Kind.ACCEPT if action == Action.ACCEPT else Kind.DROP
            entries.append(Entry(rule, kind, match, approximate=rule.approximate))
        elif action in (Action.LOG, Action.CONTINUE):
            entries.append(Entry(rule, Kind.LOG, match, approximate=rule.approximate))
        elif action == Action.RETURN:
            if rule.approximate:
                raise RulesetParseError(ruleset.path, rule.line,
                                        "a RETURN guarded by an unmodelled condition (limit, tcp flags...) is not supported")
            entries.append(Entry(rule, policy if builtin else Kind.SKIP, match))
            if not builtin:
                # Returned packets never reach the rest of this chain: narrow what flows on.
                cond = subtract_all(cond, match)
        else:  # JUMP / GOTO
            target = ruleset.chains[rule.target or ""]
            if target.name in stack:
                raise RulesetParseError(ruleset.path, rule.line,
                                        f"jump loop: {' -> '.join(stack + (target.name,))}")
            entries.append(Entry(rule, Kind.JUMP, match, approximate=rule.approximate))
            if rule.approximate:
                # We cannot tell which packets jump; inlining them all would over-drop. Refuse.
                raise RulesetParseError(ruleset.path, rule.line,
                                        "a jump guarded by an unmodelled condition (limit, tcp flags...) is not supported")
            _block(ruleset, target, match, stack + (target.name,), entries, ifaces, policy, builtin=False)
            if action == Action.GOTO:
                # Falling off a goto'd chain returns from the chain that did the goto.
                entries.append(Entry(None, policy if builtin else Kind.SKIP, match,
                                     note=f"return after goto {target.name} ({rule.location})"))
                if not builtin:
                    cond = subtract_all(cond, match)
