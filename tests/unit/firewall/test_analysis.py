"""First-match semantics with jumps, returns and gotos; shadowed versus redundant rules."""

from __future__ import annotations

from harness.suites.firewall.analysis import RulesetAnalysis
from harness.suites.firewall.packets import cidr_interval
from harness.suites.firewall.parse_iptables import parse_iptables


def _analysis(*rules: str, policy: str = "DROP", chains: tuple[str, ...] = ("A",)) -> RulesetAnalysis:
    head = ["*filter", f":INPUT {policy} [0:0]", ":FORWARD DROP [0:0]", ":OUTPUT ACCEPT [0:0]"]
    head += [f":{c} - [0:0]" for c in chains]
    return RulesetAnalysis(parse_iptables("\n".join(head + list(rules) + ["COMMIT"]) + "\n", "t.rules"))


def _accepts(a: RulesetAnalysis, src: str, dport: int) -> bool:
    point = (cidr_interval(src)[0], 1, 6, 40000, dport, 0, 0, 0)
    return bool(a.accepted("input", [tuple(v for p in point for v in (p, p))]))


def test_return_resumes_the_caller_and_goto_returns_past_it() -> None:
    a = _analysis("-A INPUT -p tcp -j A", "-A INPUT -s 10.0.0.0/8 -j ACCEPT",
                  "-A A -s 10.1.0.0/16 -j RETURN", "-A A -p tcp --dport 22 -j DROP",
                  "-A INPUT -p tcp --dport 22 -j ACCEPT")
    assert _accepts(a, "10.1.0.5", 22)  # RETURN from A, then 10/8 accept
    assert not _accepts(a, "10.2.0.5", 22)  # dropped inside A
    g = _analysis("-A INPUT -p tcp -g A", "-A INPUT -j ACCEPT", "-A A -s 10.1.0.0/16 -j RETURN", policy="DROP")
    assert not _accepts(g, "10.1.0.5", 80)  # goto: RETURN skips the caller's rest, policy decides


def test_shadowed_and_redundant_are_told_apart() -> None:
    a = _analysis("-A INPUT -s 10.0.0.0/8 -j ACCEPT", "-A INPUT -s 10.1.0.0/16 -j DROP",
                  "-A INPUT -s 10.2.0.0/16 -j ACCEPT", "-A INPUT -s 192.168.0.0/16 -j ACCEPT")
    found = {f.rule.line: f.kind for f in a.shadowed()}
    assert found == {7: "shadowed", 8: "redundant"}


def test_rule_split_across_earlier_rules_is_still_shadowed() -> None:
    """No single earlier rule covers the last one; together they do (a Batfish-style question)."""
    a = _analysis("-A INPUT -s 10.0.0.0/9 -j ACCEPT", "-A INPUT -s 10.128.0.0/9 -j DROP",
                  "-A INPUT -s 10.0.0.0/8 -p tcp --dport 22 -j ACCEPT", "-A INPUT -p tcp --dport 22 -j ACCEPT")
    assert [f.rule.line for f in a.shadowed()] == [8]


def test_a_rule_reachable_from_one_caller_is_not_shadowed() -> None:
    a = _analysis("-A INPUT -s 10.0.0.0/8 -j ACCEPT", "-A INPUT -s 10.1.0.0/16 -j A",
                  "-A INPUT -s 192.168.0.0/16 -j A", "-A A -j DROP")
    assert [f.rule.line for f in a.shadowed()] == [7]  # the first jump only
