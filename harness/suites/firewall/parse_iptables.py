"""Read `iptables-save` output into the ruleset model.

The filter table is modelled rule by rule; nat, mangle, raw and security tables are read for
structure (tables, chains, COMMIT) and noted, not analysed: they do not accept or drop in filter.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from harness.suites.firewall.model import Action, Chain, IfaceMatch, Rule, RulesetParseError, Ruleset
from harness.suites.firewall.packets import (CT_STATES, DIM_MAX, Dim, IntervalSet, PROTO_NUMBERS,
                                             cidr_interval, complement, interval_set)

BUILTIN_HOOKS = {"INPUT": "input", "FORWARD": "forward", "OUTPUT": "output"}
OTHER_TABLES = {"nat", "mangle", "raw", "security"}
ICMP_TYPES = {"echo-reply": 0, "destination-unreachable": 3, "source-quench": 4, "redirect": 5,
              "echo-request": 8, "router-advertisement": 9, "router-solicitation": 10,
              "time-exceeded": 11, "parameter-problem": 12, "timestamp-request": 13,
              "timestamp-reply": 14, "any": -1}
# Modules whose conditions we cannot express in the packet space: the rule is kept, flagged.
APPROXIMATE_MODULES = {"limit", "hashlimit", "recent", "addrtype", "pkttype", "length", "time",
                       "connlimit", "statistic"}
LOG_TARGETS = {"LOG", "NFLOG", "ULOG"}
_COUNTERS = re.compile(r"^\[\d+:\d+\]\s*")


def parse_iptables(text: str, path: Path | str = "<ruleset>") -> Ruleset:
    ruleset = Ruleset(Path(path), "iptables")
    table: str | None = None
    positions: dict[str, int] = {}
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = _COUNTERS.sub("", raw.strip())
        if not line or line.startswith("#"):
            continue
        if line.startswith("*"):
            table = line[1:].strip()
            if table != "filter" and table not in OTHER_TABLES:
                raise RulesetParseError(path, lineno, f"unknown table *{table}")
            continue
        if table is None:
            raise RulesetParseError(path, lineno, "rule or chain outside a table (no '*filter' line before it)")
        if line == "COMMIT":
            table = None
            continue
        if table != "filter":
            if line.startswith((":", "-A ", "-I ", "-N ")):
                continue  # other tables: read, not modelled (see module docstring)
            raise RulesetParseError(path, lineno, f"cannot read line in *{table}: {line!r}")
        if line.startswith(":"):
            _chain_header(ruleset, line, lineno, path)
            continue
        try:
            # shlex is slow; only quoted comments and log prefixes need it.
            tokens = shlex.split(line) if ('"' in line or "'" in line) else line.split()
        except ValueError as exc:
            raise RulesetParseError(path, lineno, f"unbalanced quotes: {exc}") from None
        if not tokens or tokens[0] not in ("-A", "--append") or len(tokens) < 2:
            raise RulesetParseError(path, lineno, f"expected '-A CHAIN ...', got {line!r}")
        chain = tokens[1]
        if chain not in ruleset.chains:
            raise RulesetParseError(path, lineno, f"rule for chain {chain} that was not declared")
        position = positions.get(chain, 0)
        positions[chain] = position + 1
        ruleset.chains[chain].rules.append(_rule(tokens[2:], chain, position, lineno, line, path))
    if table is not None:
        raise RulesetParseError(path, None, f"table *{table} has no COMMIT")
    if not ruleset.chains:
        raise RulesetParseError(path, None, "no *filter table found: is this iptables-save output?")
    for chain in ruleset.chains.values():
        for rule in chain.rules:
            if rule.target is not None and rule.target not in ruleset.chains:
                raise RulesetParseError(path, rule.line, f"target {rule.target} is neither a supported target nor a declared chain")
    return ruleset


def _chain_header(ruleset: Ruleset, line: str, lineno: int, path: Path | str) -> None:
    parts = line[1:].split()
    if len(parts) < 2:
        raise RulesetParseError(path, lineno, f"bad chain line {line!r}")
    name, policy = parts[0], parts[1]
    if name in BUILTIN_HOOKS:
        if policy not in ("ACCEPT", "DROP"):
            raise RulesetParseError(path, lineno, f"policy of {name} must be ACCEPT or DROP, got {policy}")
        ruleset.chains[name] = Chain(name, hook=BUILTIN_HOOKS[name], line=lineno,
                                     policy=Action.ACCEPT if policy == "ACCEPT" else Action.DROP)
    else:
        ruleset.chains[name] = Chain(name, line=lineno)


class _Tokens:
    def __init__(self, tokens: list[str], path: Path | str, lineno: int) -> None:
        self.tokens, self.i, self.path, self.lineno = tokens, 0, path, lineno

    def more(self) -> bool:
        return self.i < len(self.tokens)

    def take(self, what: str = "a value") -> str:
        if not self.more():
            self.fail(f"missing {what} at end of rule")
        self.i += 1
        return self.tokens[self.i - 1]

    def peek(self) -> str | None:
        return self.tokens[self.i] if self.more() else None

    def fail(self, message: str) -> None:
        raise RulesetParseError(self.path, self.lineno, message)


def _rule(tokens: list[str], chain: str, position: int, lineno: int, text: str,
          path: Path | str) -> Rule:
    tk = _Tokens(tokens, path, lineno)
    f: dict[str, object] = {}
    action: Action | None = None
    target: str | None = None
    approximate = False
    modules: set[str] = set()
    while tk.more():
        tok = tk.take()
        negated = False
        if tok == "!":
            negated, tok = True, tk.take("an option after '!'")
        if tk.peek() == "!":  # old syntax: '-s ! 10.0.0.0/8'
            tk.take()
            negated = True
        if tok in ("-s", "--source", "--src", "-d", "--destination", "--dst"):
            dim = "src" if tok in ("-s", "--source", "--src") else "dst"
            f[dim] = _negate(_addresses(tk.take("an address"), tk), negated, Dim.SRC)
        elif tok in ("-p", "--protocol"):
            f["proto"] = _negate(_protocol(tk.take("a protocol"), tk), negated, Dim.PROTO)
        elif tok in ("-i", "--in-interface", "-o", "--out-interface"):
            iface = IfaceMatch((tk.take("an interface"),), negated)
            f["iif" if tok in ("-i", "--in-interface") else "oif"] = iface
        elif tok in ("-m", "--match"):
            module = tk.take("a module name")
            modules.add(module)
            if module in APPROXIMATE_MODULES:
                approximate = True
            elif module not in ("tcp", "udp", "icmp", "multiport", "state", "conntrack", "comment",
                                "iprange", "sctp", "udplite"):
                tk.fail(f"match module '-m {module}' is not supported by the firewall analysis")
        elif tok in ("--dport", "--destination-port", "--sport", "--source-port",
                     "--dports", "--destination-ports", "--sports", "--source-ports", "--ports"):
            if "proto" not in f:
                tk.fail(f"{tok} without '-p tcp|udp'")
            if tok == "--ports":
                tk.fail("'--ports' (source or destination) is not supported; use --dports/--sports")
            dim = "sport" if "sport" in tok or "source" in tok else "dport"
            f[dim] = _negate(_ports(tk.take("a port"), tk), negated, Dim.DPORT)
        elif tok == "--icmp-type":
            icmp = _icmp_type(tk.take("an ICMP type"), tk)
            if icmp is not None:
                f["dport"] = _negate(icmp, negated, Dim.DPORT)
        elif tok in ("--state", "--ctstate"):
            f["ct"] = _negate(_ct_states(tk.take("a state list"), tk), negated, Dim.CT)
        elif tok in ("--src-range", "--dst-range"):
            lo, _, hi = tk.take("an address range").partition("-")
            try:
                rng = interval_set([(cidr_interval(lo)[0], cidr_interval(hi or lo)[0])])
            except ValueError:
                tk.fail(f"bad address range after {tok}")
            f["src" if tok == "--src-range" else "dst"] = _negate(rng, negated, Dim.SRC)
        elif tok == "--comment":
            tk.take("a comment")
        elif tok in ("--syn", "--tcp-flags", "--tcp-option"):
            approximate = True  # flags are not a dimension of the packet space
            if tok == "--tcp-flags":
                tk.take(), tk.take()
            elif tok == "--tcp-option":
                tk.take()
        elif tok.startswith("--") and modules & APPROXIMATE_MODULES:
            if tk.peek() is not None and not tk.peek().startswith("-"):  # type: ignore[union-attr]
                tk.take()  # the option's value, e.g. '--limit 5/min'
        elif tok in ("-j", "--jump", "-g", "--goto"):
            name = tk.take("a target")
            action, target = _target(name, tok in ("-g", "--goto"), tk)
        elif tok.startswith("--") and action is not None:
            # target options (--log-prefix "x", --reject-with y): they do not change reachability
            if tk.peek() is not None and not tk.peek().startswith("-"):  # type: ignore[union-attr]
                tk.take()
        elif tok in ("-f", "--fragment"):
            tk.fail("fragment matches (-f) are not supported")
        else:
            tk.fail(f"unsupported option {tok!r}")
    if action is None:
        action = Action.CONTINUE  # a rule with no target only counts packets
    return Rule(chain=chain, position=position, line=lineno, text=text, action=action,
                target=target, approximate=approximate, **f)  # type: ignore[arg-type]


def _target(name: str, goto: bool, tk: _Tokens) -> tuple[Action, str | None]:
    fixed = {"ACCEPT": Action.ACCEPT, "DROP": Action.DROP, "REJECT": Action.REJECT,
             "RETURN": Action.RETURN}
    if name in fixed and not goto:
        return fixed[name], None
    if name in LOG_TARGETS:
        return Action.LOG, None
    if name in ("INPUT", "FORWARD", "OUTPUT"):
        tk.fail(f"cannot jump to built-in chain {name}")
    return (Action.GOTO if goto else Action.JUMP), name


def _negate(values: IntervalSet, negated: bool, dim: Dim) -> IntervalSet:
    return complement(values, DIM_MAX[dim]) if negated else values


def _addresses(text: str, tk: _Tokens) -> IntervalSet:
    try:
        return interval_set(cidr_interval(part) for part in text.split(","))
    except ValueError:
        tk.fail(f"not an IPv4 address or CIDR: {text!r} (IPv6 rulesets: use nft)")
    raise AssertionError


def _protocol(text: str, tk: _Tokens) -> IntervalSet:
    name = text.lower()
    if name == "all":
        return ((0, 255),)
    if name.isdigit() and int(name) <= 255:
        return ((int(name), int(name)),)
    if name not in PROTO_NUMBERS:
        tk.fail(f"unknown protocol {text!r}")
    return ((PROTO_NUMBERS[name],) * 2,)


def _ports(text: str, tk: _Tokens) -> IntervalSet:
    out = []
    for part in text.split(","):
        lo, sep, hi = part.partition(":")
        try:
            a = int(lo) if lo else 0
            b = (int(hi) if hi else 65535) if sep else a
        except ValueError:
            tk.fail(f"not a port or port range: {part!r} (service names are not resolved)")
        if not 0 <= a <= b <= 65535:
            tk.fail(f"port range out of bounds: {part!r}")
        out.append((a, b))
    return interval_set(out)


def _icmp_type(text: str, tk: _Tokens) -> IntervalSet | None:
    kind = text.split("/")[0]
    value = ICMP_TYPES.get(kind, int(kind) if kind.isdigit() else None)
    if value is None:
        tk.fail(f"unknown ICMP type {text!r}")
    return None if value == -1 else ((value, value),)  # type: ignore[return-value]


def _ct_states(text: str, tk: _Tokens) -> IntervalSet:
    out = []
    for state in text.lower().split(","):
        if state not in CT_STATES:
            tk.fail(f"conntrack state {state!r} is not modelled (known: {', '.join(CT_STATES)})")
        out.append((CT_STATES.index(state),) * 2)
    return interval_set(out)
