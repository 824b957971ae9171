"""One model for a vendor's ruleset, whichever tool wrote it (iptables-save or nft -j).

Matches are kept as integer interval sets per packet dimension (see packets.py); interfaces stay
names until the analysis fixes the interface universe. Nothing here decides reachability.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import PopcertError
from harness.suites.firewall.packets import IntervalSet


class RulesetParseError(PopcertError):
    """The ruleset holds syntax we cannot read or do not model: never a silent pass."""

    def __init__(self, path: Path | str, line: int | None, message: str, entry: bool = False) -> None:
        self.path = str(path)
        self.line = line  # iptables: 1-based line; nft JSON: index in the "nftables" array
        self.message = message
        self.entry = entry  # line is an index in the nft "nftables" array, not a text line
        super().__init__(self.one_line())

    def one_line(self) -> str:
        if self.line is None:
            return f"{self.path}: {self.message}"
        where = f"{self.path}: nftables[{self.line}]" if self.entry else f"{self.path}:{self.line}"
        return f"{where}: {self.message}"


class Action(enum.StrEnum):
    ACCEPT = "accept"
    DROP = "drop"
    REJECT = "reject"
    LOG = "log"  # non-terminal: the packet goes on to the next rule
    CONTINUE = "continue"  # non-terminal no-op (counter only, nft continue)
    RETURN = "return"
    JUMP = "jump"
    GOTO = "goto"


@dataclass(frozen=True)
class IfaceMatch:
    """Interface names; a trailing '+' (iptables) or '*' (nft) is a prefix wildcard."""

    names: tuple[str, ...]
    negated: bool = False


@dataclass(frozen=True)
class Rule:
    chain: str
    position: int  # 0-based index inside its chain
    line: int  # where it came from: source line (iptables) or array index (nft)
    text: str  # the source text, for evidence
    action: Action
    target: str | None = None  # chain name for JUMP/GOTO
    # None means "any" for every dimension below.
    src: IntervalSet | None = None
    dst: IntervalSet | None = None
    proto: IntervalSet | None = None
    sport: IntervalSet | None = None
    dport: IntervalSet | None = None
    ct: IntervalSet | None = None
    iif: IfaceMatch | None = None
    oif: IfaceMatch | None = None
    # A condition we cannot model (rate limit, tcp flags...): the rule may match less than stated.
    approximate: bool = False
    handle: int | None = None  # nft rule handle
    # The address family the rule can match ("ipv4"/"ipv6"), None for both (nft inet rules
    # without ip/ip6 matches); "none" when it names both families and so matches nothing.
    family: str | None = None

    @property
    def location(self) -> str:
        where = f"line {self.line}" if self.handle is None else f"rule #{self.line} (handle {self.handle})"
        return f"{self.chain}[{self.position}] {where}"


@dataclass
class Chain:
    name: str
    table: str = "filter"
    family: str = "ip"
    hook: str | None = None  # input / forward / output for a base chain
    policy: Action | None = None  # None for user chains
    priority: int = 0
    line: int = 0
    rules: list[Rule] = field(default_factory=list)


@dataclass
class Ruleset:
    path: Path
    format: str  # "iptables" or "nft" (the text of ip6tables-save is "iptables" with family ipv6)
    chains: dict[str, Chain] = field(default_factory=dict)  # the filtering chains we analyse
    notes: list[str] = field(default_factory=list)  # what we parsed but do not model
    family: str = "ipv4"  # every address in this ruleset's matches is of this family

    def base_chains(self, hook: str) -> list[Chain]:
        found = [c for c in self.chains.values() if c.hook == hook]
        return sorted(found, key=lambda c: c.priority)

    @property
    def rule_count(self) -> int:
        return sum(len(c.rules) for c in self.chains.values())
