"""Read `nft -j list ruleset` JSON into the ruleset model, one ruleset per address family.

Filter chains on the input/forward/output hooks are analysed (with the user chains of their
tables): `ip` tables for IPv4, `ip6` tables for IPv6, and `inet` tables for both, each rule going
to the family its matches allow (ip saddr: IPv4 only; icmpv6 type: IPv6 only; tcp dport: both).
Other chain types and families are noted, not modelled. JSON of an unexpected shape is a
RulesetParseError naming the entry, never a traceback.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from harness.suites.firewall.model import (
    Action,
    Chain,
    IfaceMatch,
    Rule,
    Ruleset,
    RulesetParseError,
)
from harness.suites.firewall.packets import (
    ADDRESS_MAX,
    CT_STATES,
    DIM_MAX,
    FAMILIES,
    PROTO_NUMBERS,
    Dim,
    IntervalSet,
    cidr_interval,
    complement,
    intersect_sets,
    interval_set,
)
from harness.suites.firewall.parse_iptables import ICMP_TYPES

# nft table family -> the address families its filter chains see
TABLE_FAMILIES = {"ip": ("ipv4",), "ip6": ("ipv6",), "inet": ("ipv4", "ipv6")}
HOOKS = {"input", "forward", "output"}
TRANSPORT_WITH_PORTS = ((6, 6), (17, 17), (33, 33), (132, 132), (136, 136))
APPROXIMATE_STATEMENTS = {"limit", "quota", "meter"}
SIDE_EFFECTS = {"counter", "log", "limit", "quota", "meter", "notrack"}
VERDICTS = {"accept": Action.ACCEPT, "drop": Action.DROP, "reject": Action.REJECT,
            "return": Action.RETURN, "continue": Action.CONTINUE}
ICMPV6_TYPES = {"destination-unreachable": 1, "packet-too-big": 2, "time-exceeded": 3,
                "parameter-problem": 4, "echo-request": 128, "echo-reply": 129,
                "mld-listener-query": 130, "mld-listener-report": 131, "mld-listener-done": 132,
                "mld-listener-reduction": 132, "nd-router-solicit": 133, "nd-router-advert": 134,
                "nd-neighbor-solicit": 135, "nd-neighbor-advert": 136, "nd-redirect": 137,
                "router-renumbering": 138, "ind-neighbor-solicit": 141,
                "ind-neighbor-advert": 142, "mld2-listener-report": 143}
# IPv6 header fields we do not model: a rule testing them may match less than it states.
APPROXIMATE_IP6_FIELDS = {"hoplimit", "flowlabel", "dscp", "ecn", "length", "version", "nexthdr"}
FIX = "give the output of `nft -j list ruleset`"


def _entry_error(path: Path | str, index: int, message: str) -> RulesetParseError:
    return RulesetParseError(path, index, message, entry=True)


class _Fail(Exception):
    """Raised inside rule parsing; turned into RulesetParseError with the rule's index and handle."""


def parse_nft_json(text: str, path: Path | str = "<ruleset>") -> Ruleset:
    """The file's IPv4 ruleset (or its only one): see parse_nft_families for both."""
    rulesets = parse_nft_families(text, path)
    return next((r for r in rulesets if r.family == "ipv4"), rulesets[0])


def parse_nft_families(text: str, path: Path | str = "<ruleset>") -> list[Ruleset]:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RulesetParseError(path, exc.lineno, f"not valid JSON: {exc.msg} ({FIX})") from None
    except RecursionError:
        raise RulesetParseError(path, None, f"JSON nested too deeply ({FIX})") from None
    items = doc.get("nftables") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        raise RulesetParseError(path, None, f"no top-level 'nftables' array: {FIX}")
    chains: dict[str, Chain] = {}
    notes: list[str] = []
    sets: dict[tuple[str, str, str], list[Any]] = {}
    skipped: set[str] = set()
    for index, item in enumerate(items):
        if not isinstance(item, dict) or len(item) != 1:
            raise _entry_error(path, index, f"entry {index} of 'nftables' must be an object with one key ({FIX})")
        (kind, body), = item.items()
        if kind in ("chain", "set", "map", "rule"):
            _need_object(body, kind, index, path)
        try:
            if kind == "chain":
                _chain(chains, notes, body, index, path, skipped)
            elif kind in ("set", "map"):
                elements = body.get("elem", [])
                if not isinstance(elements, list):
                    raise _entry_error(path, index, f"{kind} {body.get('name')!r}: 'elem' must be a list ({FIX})")
                sets[(body.get("family"), body.get("table"), body.get("name"))] = elements
        except (AttributeError, TypeError, KeyError, IndexError, ValueError) as exc:
            raise _entry_error(path, index, f"{kind}: unexpected JSON shape ({type(exc).__name__}: "
                                    f"{str(exc)[:120]}); {FIX}") from None
    for index, item in enumerate(items):
        if "rule" not in item:
            continue
        body = item["rule"]
        key = _key(body.get("family"), body.get("table"), body.get("chain"))
        chain = chains.get(key)
        if chain is None:
            if key not in skipped:
                raise _entry_error(path, index, f"rule for undeclared chain {key[:200]}")
            continue
        try:
            rule = _rule(body, chain, index, sets)
        except _Fail as exc:
            raise _entry_error(path, index, f"rule handle {body.get('handle')} in {key}: {exc}") from None
        except (AttributeError, TypeError, KeyError, IndexError, ValueError) as exc:
            # Any other shape we did not foresee: name the entry, never a traceback.
            raise _entry_error(path, index, f"rule handle {body.get('handle')} in {key}: unexpected "
                                    f"JSON shape ({type(exc).__name__}: {str(exc)[:120]}); {FIX}") from None
        chain.rules.append(rule)
    for chain in chains.values():
        for rule in chain.rules:
            if rule.target is not None and rule.target not in chains:
                raise _entry_error(path, rule.line, f"jump to unknown chain {rule.target[:200]}")
    return _split(Path(path), chains, notes)


def _need_object(body: Any, kind: str, index: int, path: Path | str) -> None:
    names = {"chain": ("family", "table", "name"), "rule": ("family", "table", "chain"),
             "set": ("family", "table", "name"), "map": ("family", "table", "name")}[kind]
    if not isinstance(body, dict):
        raise _entry_error(path, index, f"'{kind}' must be an object with {', '.join(names)}, "
                                f"got {type(body).__name__} {str(body)[:60]!r} ({FIX})")
    missing = [n for n in names if not isinstance(body.get(n), str)]
    if missing:
        raise _entry_error(path, index, f"'{kind}' has no string field {missing[0]!r} ({FIX})")
    if kind == "rule" and not isinstance(body.get("expr", []), list):
        raise _entry_error(path, index, f"rule handle {body.get('handle')}: 'expr' must be a list ({FIX})")


def _split(path: Path, chains: dict[str, Chain], notes: list[str]) -> list[Ruleset]:
    """One ruleset per address family that has a filter base chain (inet tables count for both)."""
    out: list[Ruleset] = []
    for family in FAMILIES:
        view: dict[str, Chain] = {}
        for key, chain in chains.items():
            if family not in TABLE_FAMILIES[chain.family]:
                continue
            rules = [r for r in chain.rules if r.family in (None, family)]
            view[key] = replace(chain, rules=rules)
        if any(c.hook for c in view.values()):
            out.append(Ruleset(path, "nft", view, list(notes), family=family))
    if not out:
        out.append(Ruleset(path, "nft", {}, notes + [
            "no filter base chain on the input/forward/output hooks (ip/ip6/inet): nothing filters"]))
    return out


def _key(family: Any, table: Any, name: Any) -> str:
    return f"{family} {table} {name}"


def _chain(chains: dict[str, Chain], notes: list[str], body: dict[str, Any], index: int,
           path: Path | str, skipped: set[str]) -> None:
    family = body.get("family")
    key = _key(family, body.get("table"), body.get("name"))
    hook, kind = body.get("hook"), body.get("type")
    for name, value in (("hook", hook), ("type", kind), ("policy", body.get("policy"))):
        if value is not None and not isinstance(value, str):
            raise _entry_error(path, index, f"chain {key[:120]}: '{name}' must be a string, got "
                                    f"{str(value)[:40]!r} ({FIX})")
    if family not in TABLE_FAMILIES or (hook is not None and (kind != "filter" or hook not in HOOKS)):
        skipped.add(key)  # other families (arp, bridge, netdev); nat, route or prerouting chains
        notes.append(f"chain {key[:120]} (type {kind}, hook {hook}) is not analysed")
        return
    policy = None
    if hook is not None:
        raw = body.get("policy", "accept")  # nft base chains accept by default
        if raw not in ("accept", "drop"):
            raise _entry_error(path, index, f"chain {key}: policy {str(raw)[:40]!r} is not accept or drop")
        policy = Action(raw)
    chains[key] = Chain(key, table=str(body.get("table")), family=str(family), hook=hook,
                        policy=policy, priority=_priority(body.get("prio", 0)), line=index)


def _priority(value: Any) -> int:
    named = {"raw": -300, "mangle": -150, "dstnat": -100, "filter": 0, "security": 50, "srcnat": 100}
    return int(value) if isinstance(value, int) else named.get(str(value), 0)


class _RuleFields:
    """What one rule's matches say, and which address family they confine it to."""

    def __init__(self, table_family: str) -> None:
        self.fields: dict[str, Any] = {}
        self.approximate = False
        fams = TABLE_FAMILIES.get(table_family, ("ipv4",))
        self.families: set[str] = set(fams)

    def only(self, family: str) -> None:
        self.families &= {family}

    @property
    def family(self) -> str | None:
        if len(self.families) == 2:
            return None
        return next(iter(self.families), "none")


def _rule(body: dict[str, Any], chain: Chain, index: int, sets: dict[tuple[str, str, str], list[Any]]) -> Rule:
    found = _RuleFields(chain.family)
    action: Action | None = None
    target: str | None = None
    logs = False
    for expr in body.get("expr", []):
        if not isinstance(expr, dict) or len(expr) != 1:
            raise _Fail(f"unreadable expression {str(expr)[:100]!r} ({FIX})")
        (kind, value), = expr.items()
        if kind == "match":
            if not isinstance(value, dict):
                raise _Fail(f"a match must be an object, got {str(value)[:60]!r} ({FIX})")
            _match(value, found, body, sets)
        elif kind in VERDICTS:
            action = VERDICTS[kind]
        elif kind in ("jump", "goto"):
            if not isinstance(value, dict) or not isinstance(value.get("target"), str):
                raise _Fail(f"{kind} needs {{\"target\": \"chain\"}}, got {str(value)[:60]!r} ({FIX})")
            action = Action.JUMP if kind == "jump" else Action.GOTO
            target = _key(body.get("family"), body.get("table"), value.get("target"))
        elif kind in SIDE_EFFECTS:
            logs = logs or kind == "log"
            found.approximate = found.approximate or kind in APPROXIMATE_STATEMENTS
        else:
            raise _Fail(f"statement {str(kind)[:40]!r} is not supported by the firewall analysis")
    if action is None:
        action = Action.LOG if logs else Action.CONTINUE
    comment = body.get("comment")
    text = comment if isinstance(comment, str) else json.dumps(body.get("expr", []), separators=(",", ":"))
    handle = body.get("handle")
    return Rule(chain=chain.name, position=len(chain.rules), line=index, text=text[:300], action=action,
                target=target, approximate=found.approximate,
                handle=handle if isinstance(handle, int) else None, family=found.family, **found.fields)


def _match(m: dict[str, Any], found: _RuleFields, body: dict[str, Any],
           sets: dict[tuple[str, str, str], list[Any]]) -> None:
    """Add one match to the rule's fields and narrow its family."""
    op, left, right = m.get("op", "=="), m.get("left"), m.get("right")
    if not isinstance(op, str):
        raise _Fail(f"operator {str(op)[:20]!r} is not a string ({FIX})")
    if isinstance(right, str) and right.startswith("@"):
        family, table = body.get("family"), body.get("table")
        named = (sets.get((family, table, right[1:]))
                 if isinstance(family, str) and isinstance(table, str) else None)
        right = {"set": named}
        if right["set"] is None:
            raise _Fail(f"named set {m.get('right')} is not defined in the ruleset")
    if not isinstance(left, dict) or len(left) != 1:
        raise _Fail(f"unsupported match left-hand side {str(left)[:100]!r} ({FIX})")
    (lkind, lval), = left.items()
    if not isinstance(lval, dict):
        raise _Fail(f"{lkind} match: expected an object, got {str(lval)[:60]!r} ({FIX})")
    fields = found.fields
    if lkind == "payload":
        proto, field = lval.get("protocol"), lval.get("field")
        if proto == "ip6":
            found.only("ipv6")
            if field in ("saddr", "daddr"):
                _put(fields, "src" if field == "saddr" else "dst", _values(right, op, Dim.SRC, family="ipv6"))
            elif field in APPROXIMATE_IP6_FIELDS:
                # nexthdr is the first extension header, not always the transport: may match less.
                found.approximate = True
            else:
                raise _Fail(f"payload match ip6 {field} is not supported")
        elif proto == "ip" and field in ("saddr", "daddr"):
            found.only("ipv4")
            _put(fields, "src" if field == "saddr" else "dst", _values(right, op, Dim.SRC))
        elif proto == "ip" and field == "protocol":
            found.only("ipv4")
            _put(fields, "proto", _values(right, op, Dim.PROTO))
        elif proto in ("tcp", "udp", "th", "sctp", "udplite", "dccp") and field in ("sport", "dport"):
            implied = TRANSPORT_WITH_PORTS if proto == "th" else ((PROTO_NUMBERS[proto],) * 2,)
            _put(fields, "proto", interval_set(implied))
            _put(fields, field, _values(right, op, Dim.DPORT))
        elif proto in ("icmp", "icmpv6") and field == "type":
            found.only("ipv4" if proto == "icmp" else "ipv6")
            _put(fields, "proto", ((1, 1),) if proto == "icmp" else ((58, 58),))
            names = ICMP_TYPES if proto == "icmp" else ICMPV6_TYPES
            _put(fields, "dport", _values(right, op, Dim.DPORT, names=names))
        elif proto in ("icmp", "icmpv6"):
            found.only("ipv4" if proto == "icmp" else "ipv6")
            _put(fields, "proto", ((1, 1),) if proto == "icmp" else ((58, 58),))
            found.approximate = True  # code, id, sequence, mtu: not dimensions of the packet space
        else:
            raise _Fail(f"payload match {str(proto)[:20]} {str(field)[:20]} is not supported")
    elif lkind == "exthdr":
        # IPv6 extension headers: conditions we do not model (the rule may match less).
        found.only("ipv6")
        found.approximate = True
    elif lkind == "meta":
        key = lval.get("key")
        if key == "nfproto":
            wanted = {str(v) for v in _strings(right)} & {"ipv4", "ipv6"}
            if op == "!=":
                wanted = {"ipv4", "ipv6"} - wanted
            found.families &= wanted
        elif key in ("iifname", "oifname", "iif", "oif"):
            interfaces = tuple(str(v) for v in _strings(right))
            _put_iface(fields, "iif" if key.startswith("i") else "oif", IfaceMatch(interfaces, op == "!="))
        elif key == "l4proto":
            _put(fields, "proto", _values(right, op, Dim.PROTO))
        else:
            raise _Fail(f"meta {str(key)[:20]} match is not supported")
    elif lkind == "ct" and lval.get("key") == "state":
        states = {str(s) for s in _strings(right)}
        unknown = states - set(CT_STATES)
        if unknown:
            raise _Fail(f"ct state {sorted(unknown)[:5]} is not modelled")
        values = interval_set((CT_STATES.index(s),) * 2 for s in states)
        _put(fields, "ct", complement(values, DIM_MAX[Dim.CT]) if op == "!=" else values)
    else:
        raise _Fail(f"{str(lkind)[:20]} match is not supported")


def _strings(right: Any) -> list[Any]:
    if isinstance(right, dict) and "set" in right:
        members = right["set"]
        if not isinstance(members, list):
            raise _Fail(f"a set must be a list, got {str(members)[:60]!r} ({FIX})")
        return [_element(e) for e in members]
    if isinstance(right, list):
        return [_element(e) for e in right]
    return [right]


def _element(e: Any) -> Any:
    if isinstance(e, dict) and "elem" in e:
        inner = e["elem"]
        return inner.get("val") if isinstance(inner, dict) else inner
    return e


def _values(right: Any, op: str, dim: Dim, names: dict[str, int] | None = None,
            family: str = "ipv4") -> IntervalSet:
    maximum = ADDRESS_MAX[family] if dim in (Dim.SRC, Dim.DST) else DIM_MAX[dim]
    out: list[tuple[int, int]] = []
    for value in _strings(right):
        out.append(_one(value, dim, names, family))
    values = interval_set(out)
    if op in ("==", "in"):
        return values
    if op == "!=":
        return complement(values, maximum)
    if len(out) != 1 or out[0][0] != out[0][1]:
        raise _Fail(f"operator {op[:10]} needs a single value")
    v = out[0][0]
    bounds = {"<": (0, v - 1), "<=": (0, v), ">": (v + 1, maximum), ">=": (v, maximum)}
    if op not in bounds:
        raise _Fail(f"operator {op[:10]!r} is not supported")
    return interval_set([bounds[op]])


def _one(value: Any, dim: Dim, names: dict[str, int] | None, family: str = "ipv4") -> tuple[int, int]:
    maximum = ADDRESS_MAX[family] if dim in (Dim.SRC, Dim.DST) else DIM_MAX[dim]
    if isinstance(value, dict) and isinstance(value.get("prefix"), dict):
        prefix = value["prefix"]
        try:
            return cidr_interval(f"{prefix.get('addr')}/{prefix.get('len')}", family)
        except ValueError:
            raise _Fail(f"not an {family} prefix: {str(prefix)[:80]!r}") from None
    if isinstance(value, dict) and isinstance(value.get("range"), list) and len(value["range"]) == 2:
        a, b = (_one(v, dim, names, family) for v in value["range"])
        return a[0], b[1]
    if isinstance(value, int) and not isinstance(value, bool):
        if not 0 <= value <= maximum:
            raise _Fail(f"value {value} is out of range for {dim.name.lower()}")
        return value, value
    if isinstance(value, str):
        if dim in (Dim.SRC, Dim.DST):
            try:
                return cidr_interval(value, family)
            except ValueError:
                raise _Fail(f"not an {family} address: {value[:80]!r}") from None
        if dim == Dim.PROTO and value in PROTO_NUMBERS:
            return (PROTO_NUMBERS[value],) * 2
        if names and value in names and names[value] >= 0:
            return (names[value],) * 2
        if value.isdigit() and int(value) <= maximum:
            return int(value), int(value)
    raise _Fail(f"cannot read value {str(value)[:80]!r}")


def _put(fields: dict[str, Any], name: str, values: IntervalSet) -> None:
    # Two matches on the same field in one rule both have to hold.
    fields[name] = intersect_sets(fields[name], values) if name in fields else values


def _put_iface(fields: dict[str, Any], name: str, iface: IfaceMatch) -> None:
    if name in fields:
        raise _Fail(f"two {name} matches in one rule are not supported")
    fields[name] = iface
