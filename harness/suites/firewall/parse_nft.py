"""Read `nft -j list ruleset` JSON into the ruleset model.

Filter chains on the input/forward/output hooks of the ip and inet families are analysed (with the
user chains of their tables); other chain types and families are noted, not modelled. A rule that
matches only IPv6 fields is kept and flagged: the analysis covers IPv4 packets.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.suites.firewall.model import Action, Chain, IfaceMatch, Rule, RulesetParseError, Ruleset
from harness.suites.firewall.packets import (CT_STATES, DIM_MAX, Dim, IntervalSet, PROTO_NUMBERS,
                                             cidr_interval, complement, intersect_sets,
                                             interval_set)
from harness.suites.firewall.parse_iptables import ICMP_TYPES

ANALYSED_FAMILIES = {"ip", "inet"}
HOOKS = {"input", "forward", "output"}
TRANSPORT_WITH_PORTS = ((6, 6), (17, 17), (33, 33), (132, 132), (136, 136))
APPROXIMATE_STATEMENTS = {"limit", "quota", "meter"}
SIDE_EFFECTS = {"counter", "log", "limit", "quota", "meter", "notrack"}
VERDICTS = {"accept": Action.ACCEPT, "drop": Action.DROP, "reject": Action.REJECT,
            "return": Action.RETURN, "continue": Action.CONTINUE}


class _Fail(Exception):
    """Raised inside rule parsing; turned into RulesetParseError with the rule's index and handle."""


def parse_nft_json(text: str, path: Path | str = "<ruleset>") -> Ruleset:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RulesetParseError(path, exc.lineno, f"not valid JSON: {exc.msg}") from None
    items = doc.get("nftables") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        raise RulesetParseError(path, None, "no top-level 'nftables' array: is this 'nft -j list ruleset' output?")
    ruleset = Ruleset(Path(path), "nft")
    sets: dict[tuple[str, str, str], list[Any]] = {}
    skipped: set[str] = set()
    for index, item in enumerate(items):
        if not isinstance(item, dict) or len(item) != 1:
            raise RulesetParseError(path, index, "each entry of 'nftables' must be an object with one key")
        (kind, body), = item.items()
        if kind == "chain":
            _chain(ruleset, body, index, path, skipped)
        elif kind in ("set", "map"):
            sets[(body.get("family"), body.get("table"), body.get("name"))] = body.get("elem", [])
    for index, item in enumerate(items):
        if "rule" not in item:
            continue
        body = item["rule"]
        key = _key(body.get("family"), body.get("table"), body.get("chain"))
        chain = ruleset.chains.get(key)
        if chain is None:
            if key not in skipped:
                raise RulesetParseError(path, index, f"rule for undeclared chain {key}")
            continue
        try:
            rule = _rule(body, chain, index, sets)
        except _Fail as exc:
            raise RulesetParseError(path, index, f"rule handle {body.get('handle')} in {key}: {exc}") from None
        chain.rules.append(rule)
    for chain in ruleset.chains.values():
        for rule in chain.rules:
            if rule.target is not None and rule.target not in ruleset.chains:
                raise RulesetParseError(path, rule.line, f"jump to unknown chain {rule.target}")
    if not any(c.hook for c in ruleset.chains.values()):
        ruleset.notes.append("no filter base chain on the input/forward/output hooks (ip/inet): nothing filters IPv4")
    return ruleset


def _key(family: Any, table: Any, name: Any) -> str:
    return f"{family} {table} {name}"


def _chain(ruleset: Ruleset, body: dict[str, Any], index: int, path: Path | str,
           skipped: set[str]) -> None:
    family = body.get("family")
    key = _key(family, body.get("table"), body.get("name"))
    hook, kind = body.get("hook"), body.get("type")
    if family not in ANALYSED_FAMILIES or (hook is not None and (kind != "filter" or hook not in HOOKS)):
        skipped.add(key)  # other families; nat, route or prerouting chains
        ruleset.notes.append(f"chain {key} (type {kind}, hook {hook}) is not analysed")
        return
    policy = None
    if hook is not None:
        raw = body.get("policy", "accept")  # nft base chains accept by default
        if raw not in ("accept", "drop"):
            raise RulesetParseError(path, index, f"chain {key}: policy {raw!r} is not accept or drop")
        policy = Action(raw)
    ruleset.chains[key] = Chain(key, table=str(body.get("table")), family=str(family), hook=hook,
                                policy=policy, priority=_priority(body.get("prio", 0)), line=index)


def _priority(value: Any) -> int:
    named = {"raw": -300, "mangle": -150, "dstnat": -100, "filter": 0, "security": 50, "srcnat": 100}
    return int(value) if isinstance(value, int) else named.get(str(value), 0)


def _rule(body: dict[str, Any], chain: Chain, index: int, sets: dict[tuple[str, str, str], list[Any]]) -> Rule:
    fields: dict[str, Any] = {}
    action: Action | None = None
    target: str | None = None
    approximate = ipv6_only = False
    logs = False
    for expr in body.get("expr", []):
        if not isinstance(expr, dict) or len(expr) != 1:
            raise _Fail(f"unreadable expression {expr!r}")
        (kind, value), = expr.items()
        if kind == "match":
            if _match(value, fields, body, sets):
                ipv6_only = True
        elif kind in VERDICTS:
            action = VERDICTS[kind]
        elif kind in ("jump", "goto"):
            action = Action.JUMP if kind == "jump" else Action.GOTO
            target = _key(body.get("family"), body.get("table"), value.get("target"))
        elif kind in SIDE_EFFECTS:
            logs = logs or kind == "log"
            approximate = approximate or kind in APPROXIMATE_STATEMENTS
        else:
            raise _Fail(f"statement {kind!r} is not supported by the firewall analysis")
    if action is None:
        action = Action.LOG if logs else Action.CONTINUE
    text = body.get("comment") or json.dumps(body.get("expr", []), separators=(",", ":"))[:300]
    return Rule(chain=chain.name, position=len(chain.rules), line=index, text=text, action=action,
                target=target, approximate=approximate, handle=body.get("handle"),
                ipv6_only=ipv6_only, **fields)


def _match(m: dict[str, Any], fields: dict[str, Any], body: dict[str, Any],
           sets: dict[tuple[str, str, str], list[Any]]) -> bool:
    """Add one match to fields; returns True when the match can only hold for IPv6 packets."""
    op, left, right = m.get("op", "=="), m.get("left"), m.get("right")
    if isinstance(right, str) and right.startswith("@"):
        right = {"set": sets.get((body.get("family"), body.get("table"), right[1:]), None)}
        if right["set"] is None:
            raise _Fail(f"named set {m.get('right')} is not defined in the ruleset")
    if not isinstance(left, dict) or len(left) != 1:
        raise _Fail(f"unsupported match left-hand side {left!r}")
    (lkind, lval), = left.items()
    if lkind == "payload":
        proto, field = lval.get("protocol"), lval.get("field")
        if proto in ("ip6", "icmpv6"):
            return True
        if proto == "ip" and field in ("saddr", "daddr"):
            _put(fields, "src" if field == "saddr" else "dst", _values(right, op, Dim.SRC))
        elif proto == "ip" and field == "protocol":
            _put(fields, "proto", _values(right, op, Dim.PROTO))
        elif proto in ("tcp", "udp", "th", "sctp", "udplite", "dccp") and field in ("sport", "dport"):
            implied = TRANSPORT_WITH_PORTS if proto == "th" else ((PROTO_NUMBERS[proto],) * 2,)
            _put(fields, "proto", interval_set(implied))
            _put(fields, field, _values(right, op, Dim.DPORT))
        elif proto == "icmp" and field == "type":
            _put(fields, "proto", ((1, 1),))
            _put(fields, "dport", _values(right, op, Dim.DPORT, names=ICMP_TYPES))
        else:
            raise _Fail(f"payload match {proto} {field} is not supported")
    elif lkind == "meta":
        key = lval.get("key")
        if key == "nfproto":
            return _strings(right) == ["ipv6"] and op in ("==", "in")
        if key in ("iifname", "oifname", "iif", "oif"):
            names = tuple(str(v) for v in _strings(right))
            _put_iface(fields, "iif" if key.startswith("i") else "oif", IfaceMatch(names, op == "!="))
        elif key == "l4proto":
            _put(fields, "proto", _values(right, op, Dim.PROTO))
        else:
            raise _Fail(f"meta {key} match is not supported")
    elif lkind == "ct" and lval.get("key") == "state":
        states = set(_strings(right))
        unknown = states - set(CT_STATES)
        if unknown:
            raise _Fail(f"ct state {sorted(unknown)} is not modelled")
        values = interval_set((CT_STATES.index(s),) * 2 for s in states)
        _put(fields, "ct", complement(values, DIM_MAX[Dim.CT]) if op == "!=" else values)
    else:
        raise _Fail(f"{lkind} match is not supported")
    return False


def _strings(right: Any) -> list[Any]:
    if isinstance(right, dict) and "set" in right:
        return [_element(e) for e in right["set"]]
    if isinstance(right, list):
        return [_element(e) for e in right]
    return [right]


def _element(e: Any) -> Any:
    if isinstance(e, dict) and "elem" in e:
        return e["elem"].get("val")
    return e


def _values(right: Any, op: str, dim: Dim, names: dict[str, int] | None = None) -> IntervalSet:
    maximum = DIM_MAX[dim]
    out: list[tuple[int, int]] = []
    for value in _strings(right):
        out.append(_one(value, dim, names))
    values = interval_set(out)
    if op in ("==", "in"):
        return values
    if op == "!=":
        return complement(values, maximum)
    if len(out) != 1 or out[0][0] != out[0][1]:
        raise _Fail(f"operator {op} needs a single value")
    v = out[0][0]
    bounds = {"<": (0, v - 1), "<=": (0, v), ">": (v + 1, maximum), ">=": (v, maximum)}
    if op not in bounds:
        raise _Fail(f"operator {op!r} is not supported")
    return interval_set([bounds[op]])


def _one(value: Any, dim: Dim, names: dict[str, int] | None) -> tuple[int, int]:
    if isinstance(value, dict) and "prefix" in value:
        return cidr_interval(f"{value['prefix']['addr']}/{value['prefix']['len']}")
    if isinstance(value, dict) and "range" in value:
        a, b = (_one(v, dim, names) for v in value["range"])
        return a[0], b[1]
    if isinstance(value, int):
        return value, value
    if isinstance(value, str):
        if dim in (Dim.SRC, Dim.DST):
            try:
                return cidr_interval(value)
            except ValueError:
                raise _Fail(f"not an IPv4 address: {value!r}") from None
        if dim == Dim.PROTO and value in PROTO_NUMBERS:
            return (PROTO_NUMBERS[value],) * 2
        if names and value in names and names[value] >= 0:
            return (names[value],) * 2
        if value.isdigit():
            return int(value), int(value)
    raise _Fail(f"cannot read value {value!r}")


def _put(fields: dict[str, Any], name: str, values: IntervalSet) -> None:
    # Two matches on the same field in one rule both have to hold.
    fields[name] = intersect_sets(fields[name], values) if name in fields else values


def _put_iface(fields: dict[str, Any], name: str, iface: IfaceMatch) -> None:
    if name in fields:
        raise _Fail(f"two {name} matches in one rule are not supported")
    fields[name] = iface
