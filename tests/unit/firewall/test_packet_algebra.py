"""The box algebra and the whole analysis agree with a naive first-match evaluator."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.suites.firewall.analysis import RulesetAnalysis
from harness.suites.firewall.packets import NDIM, Dim, contains_point, intersect, subtract, subtract_all
from harness.suites.firewall.parse_iptables import parse_iptables
from tests.unit.firewall.fw_brute_force import evaluate

SMALL = [0, 1, 2, 5, 7, 9]


@st.composite
def boxes(draw: st.DrawFn) -> tuple[int, ...]:
    out = []
    for _ in range(NDIM):
        a, b = sorted((draw(st.sampled_from(SMALL)), draw(st.sampled_from(SMALL))))
        out += (a, b)
    return tuple(out)


points = st.tuples(*[st.sampled_from(SMALL) for _ in range(NDIM)])


@given(boxes(), boxes(), points)
def test_subtract_is_set_difference(a: tuple[int, ...], b: tuple[int, ...], p: tuple[int, ...]) -> None:
    pieces = subtract(a, b)
    inside = [piece for piece in pieces if contains_point(piece, p)]
    assert len(inside) == (1 if contains_point(a, p) and not contains_point(b, p) else 0)


@given(boxes(), boxes(), points)
def test_intersect_is_set_intersection(a: tuple[int, ...], b: tuple[int, ...], p: tuple[int, ...]) -> None:
    c = intersect(a, b)
    assert (c is not None and contains_point(c, p)) == (contains_point(a, p) and contains_point(b, p))


@given(st.lists(boxes(), max_size=6), boxes(), points)
def test_subtract_all_keeps_pieces_disjoint(cut: list[tuple[int, ...]], a: tuple[int, ...],
                                            p: tuple[int, ...]) -> None:
    rest = subtract_all([a], cut)
    hits = sum(contains_point(r, p) for r in rest)
    assert hits == (1 if contains_point(a, p) and not any(contains_point(c, p) for c in cut) else 0)


# ---- random rulesets vs the naive evaluator ------------------------------------------------

SRCS = ["10.0.0.0/8", "10.1.0.0/16", "10.1.2.0/24", "10.1.2.3", "192.168.0.0/16", "10.200.0.0/9"]
PACKET_SRCS = ["10.1.2.3", "10.1.2.4", "10.1.9.9", "10.9.9.9", "10.200.0.1", "192.168.1.1", "8.8.8.8"]
MATCHES = st.lists(st.sampled_from([
    "-s {src}", "! -s {src}", "-d {src}", "-p tcp", "-p udp", "-p tcp -m tcp --dport 22",
    "-p tcp -m tcp --dport 1000:2000", "-p tcp -m multiport --dports 22,443", "-p udp --dport 53",
    "-p tcp ! --dport 443", "-m conntrack --ctstate NEW", "-m state --state ESTABLISHED,RELATED",
    "-i eth0", "-i eth+", "! -i eth1", "-i lo"]), max_size=3, unique=True)
INPUT_TARGETS = ["ACCEPT", "DROP", "REJECT", "LOG", "RETURN", "USER", "USER", "-g USER"]
USER_TARGETS = ["ACCEPT", "DROP", "LOG", "RETURN", "RETURN"]


SRCS_V6 = ["2001:db8::/32", "2001:db8:1::/48", "2001:db8:1:2::/64", "2001:db8:1:2::3", "fd00::/8",
           "2001:db8:8000::/33"]
PACKET_SRCS_V6 = ["2001:db8:1:2::3", "2001:db8:1:2::4", "2001:db8:1:9::9", "2001:db8:9::9",
                  "2001:db8:8000::1", "fd00::1", "2606:4700::1111"]


@st.composite
def rules(draw: st.DrawFn, targets: list[str], srcs: list[str] = SRCS) -> str:
    parts = [m.format(src=draw(st.sampled_from(srcs))) for m in draw(MATCHES)]
    # One protocol and one port match per rule, as iptables would demand.
    protos = [p for p in parts if p.startswith("-p")]
    parts = [p for p in parts if not p.startswith("-p")] + protos[:1]
    target = draw(st.sampled_from(targets))
    return " ".join(parts) + (f" {target}" if target.startswith("-g") else f" -j {target}")


@st.composite
def rulesets(draw: st.DrawFn, srcs: list[str] = SRCS, header: str = "") -> str:
    policy = draw(st.sampled_from(["ACCEPT", "DROP"]))
    lines = ([header] if header else []) + [
        "*filter", f":INPUT {policy} [0:0]", ":FORWARD DROP [0:0]", ":OUTPUT ACCEPT [0:0]", ":USER - [0:0]"]
    lines += [f"-A INPUT {r}" for r in draw(st.lists(rules(INPUT_TARGETS, srcs), min_size=1, max_size=8))]
    lines += [f"-A USER {r}" for r in draw(st.lists(rules(USER_TARGETS, srcs), max_size=5))]
    return "\n".join(lines + ["COMMIT"]) + "\n"


@st.composite
def packets(draw: st.DrawFn, iface_count: int, srcs: list[str] = PACKET_SRCS,
            family: str = "ipv4") -> tuple[int, ...]:
    from harness.suites.firewall.packets import cidr_interval
    return (cidr_interval(draw(st.sampled_from(srcs)), family)[0],
            cidr_interval(draw(st.sampled_from(srcs)), family)[0],
            draw(st.sampled_from([6, 17, 1])), draw(st.sampled_from([22, 53, 1500, 40000])),
            draw(st.sampled_from([22, 53, 443, 1000, 2000, 2001])), draw(st.integers(0, iface_count - 1)),
            0, draw(st.integers(0, 4)))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rulesets(), st.data())
def test_analysis_agrees_with_first_match_evaluation(text: str, data: st.DataObject) -> None:
    ruleset = parse_iptables(text, Path("random.rules"))
    analysis = RulesetAnalysis(ruleset, ("lo", "eth0", "eth1", "eth7"))
    shadowed = {(f.rule.chain, f.rule.position) for f in analysis.shadowed()}
    names = analysis.ifaces.names
    for _ in range(25):
        packet = data.draw(packets(len(names)))
        trace: set[tuple[str, int]] = set()
        expected = evaluate(ruleset, "INPUT", packet, names[packet[Dim.IIF]], names[0], trace)
        probe = [tuple(v for p in packet for v in (p, p))]
        got = "accept" if analysis.accepted("input", probe) else "drop"
        assert got == expected, (text, packet)
        # A rule reported as never matching must never be the one a real packet matches.
        assert not (trace & shadowed), (text, packet, trace & shadowed)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rulesets(SRCS_V6, "# Generated by ip6tables-save v1.8.9"), st.data())
def test_ipv6_analysis_agrees_with_first_match_evaluation(text: str, data: st.DataObject) -> None:
    """The same machinery in the 128-bit space: an ip6tables-save ruleset, IPv6 packets."""
    ruleset = parse_iptables(text, Path("random6.rules"))
    assert ruleset.family == "ipv6"
    analysis = RulesetAnalysis(ruleset, ("lo", "eth0", "eth1", "eth7"))
    shadowed = {(f.rule.chain, f.rule.position) for f in analysis.shadowed()}
    names = analysis.ifaces.names
    for _ in range(25):
        packet = data.draw(packets(len(names), PACKET_SRCS_V6, "ipv6"))
        trace: set[tuple[str, int]] = set()
        expected = evaluate(ruleset, "INPUT", packet, names[packet[Dim.IIF]], names[0], trace)
        probe = [tuple(v for p in packet for v in (p, p))]
        got = "accept" if analysis.accepted("input", probe) else "drop"
        assert got == expected, (text, packet)
        assert not (trace & shadowed), (text, packet, trace & shadowed)
