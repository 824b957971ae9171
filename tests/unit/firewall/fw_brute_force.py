"""A deliberately naive first-match evaluator, independent of the box algebra, to check it against."""

from __future__ import annotations

from harness.suites.firewall.model import Action, IfaceMatch, Rule, Ruleset
from harness.suites.firewall.packets import Dim, IntervalSet


def _in(values: IntervalSet | None, v: int) -> bool:
    return values is None or any(lo <= v <= hi for lo, hi in values)


def _iface(match: IfaceMatch | None, name: str) -> bool:
    if match is None:
        return True
    hit = any(name.startswith(p[:-1]) and not name.startswith("~") if p.endswith(("+", "*")) else p == name
              for p in match.names)
    return hit != match.negated


def matches(rule: Rule, packet: tuple[int, ...], iif: str, oif: str, family: str = "ipv4") -> bool:
    return (rule.family in (None, family) and _in(rule.src, packet[Dim.SRC]) and _in(rule.dst, packet[Dim.DST])
            and _in(rule.proto, packet[Dim.PROTO]) and _in(rule.sport, packet[Dim.SPORT])
            and _in(rule.dport, packet[Dim.DPORT]) and _in(rule.ct, packet[Dim.CT])
            and _iface(rule.iif, iif) and _iface(rule.oif, oif))


def evaluate(ruleset: Ruleset, chain: str, packet: tuple[int, ...], iif: str, oif: str,
             trace: set[tuple[str, int]] | None = None) -> str:
    """'accept' or 'drop' for one packet entering base chain `chain`."""
    trace = trace if trace is not None else set()

    def run(name: str) -> str:
        for rule in ruleset.chains[name].rules:
            if not matches(rule, packet, iif, oif, ruleset.family):
                continue
            trace.add((rule.chain, rule.position))
            if rule.action == Action.ACCEPT:
                return "accept"
            if rule.action in (Action.DROP, Action.REJECT):
                return "drop"
            if rule.action == Action.RETURN:
                return "return"
            if rule.action in (Action.JUMP, Action.GOTO):
                verdict = run(rule.target or "")
                if verdict != "return":
                    return verdict
                if rule.action == Action.GOTO:
                    return "return"
        return "return"

    verdict = run(chain)
    if verdict == "return":
        policy = ruleset.chains[chain].policy
        return "accept" if policy in (None, Action.ACCEPT) else "drop"
    return verdict
