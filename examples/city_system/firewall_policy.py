"""The reference city system's firewall ruleset, with the firewall.* defect switches applied.

The compliant rulesets live in examples/city_system/firewall/ (iptables-save + ip6tables-save,
written concatenated, and nft -j with one inet table for both families). Each defect is a small,
realistic edit that breaks its FW- check(s) of the firewall suite. The deployed host of the lab
(`DeployedHost`) is what FW-LIVE-EXPOSURE scans: with firewall.live_port_open it runs a stray
service that the declared ruleset drops.
"""

from __future__ import annotations

import copy
import json
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, Self

HERE = Path(__file__).resolve().parent / "firewall"
IPTABLES_SOURCE = HERE / "ruleset.iptables"
IP6TABLES_SOURCE = HERE / "ruleset.ip6tables"
NFT_SOURCE = HERE / "ruleset.nft.json"
# The lab deploys the reference host on loopback, dual-stack.
LAB_ADDRESSES = ("127.0.0.1", "::1")

FIREWALL_DEFECTS: dict[str, str] = {
    "firewall.default_accept": "INPUT policy ACCEPT and no final catch-all drop",
    "firewall.inbound_not_restricted": "port 443 accepted from any source, not only the national gateways",
    "firewall.ssh_open": "SSH accepted from any source, not only the management network",
    "firewall.egress_open": "every new outbound connection accepted, not only to the NPDB",
    "firewall.any_any": "an accept-everything rule in FORWARD",
    "firewall.shadowed_rule": "a block rule for one gateway host placed after the gateway's accept",
    "firewall.ipv6_open": "the IPv6 policy accepts everything (accept-all first in INPUT, FORWARD, OUTPUT)",
    "firewall.icmpv6_dropped": "all ICMPv6 dropped ('block ping' carried over to IPv6)",
    "firewall.ipv6_missing": "the dual-stack host's IPv6 ruleset is not submitted (IPv4 only)",
    "firewall.live_port_open": "the deployed host runs a service the declared ruleset drops",
}

_GATEWAY_A = '-A GATEWAY_IN -s 203.0.113.0/24 -m comment --comment "national gateway A" -j ACCEPT'
_IPT_EDITS: dict[str, Callable[[list[str]], list[str]]] = {
    "firewall.default_accept": lambda ls: [
        ":INPUT ACCEPT [0:0]" if x == ":INPUT DROP [0:0]" else x for x in ls if x != "-A INPUT -j LOG_DROP"],
    "firewall.inbound_not_restricted": lambda ls: [
        x.replace("--dport 443 -j GATEWAY_IN", "--dport 443 -j ACCEPT") for x in ls],
    "firewall.ssh_open": lambda ls: [
        x.replace("-s 10.10.0.0/24 -i eth1 ", "") if '"management ssh"' in x else x for x in ls],
    "firewall.egress_open": lambda ls: [
        "-A OUTPUT -j ACCEPT" if x == "-A OUTPUT -j LOG_DROP" else x for x in ls],
    "firewall.any_any": lambda ls: _after(ls, ":LOG_DROP - [0:0]", "-A FORWARD -j ACCEPT"),
    "firewall.shadowed_rule": lambda ls: _after(
        ls, _GATEWAY_A, '-A GATEWAY_IN -s 203.0.113.66/32 -m comment --comment "blocked gateway host" -j DROP'),
}


_ICMPV6_DROP = '-m comment --comment "block ping (IPv6)" -j DROP'
_IP6T_EDITS: dict[str, Callable[[list[str]], list[str]]] = {
    "firewall.ipv6_open": lambda ls: _after(_after(_after(
        ls, ":LOG_DROP - [0:0]", "-A INPUT -j ACCEPT"), "-A INPUT -j ACCEPT", "-A FORWARD -j ACCEPT"),
        "-A FORWARD -j ACCEPT", "-A OUTPUT -j ACCEPT"),
    "firewall.icmpv6_dropped": lambda ls: _after(_after(
        [x for x in ls if "-p ipv6-icmp" not in x], ":LOG_DROP - [0:0]", f"-A INPUT -p ipv6-icmp {_ICMPV6_DROP}"),
        f"-A INPUT -p ipv6-icmp {_ICMPV6_DROP}", f"-A OUTPUT -p ipv6-icmp {_ICMPV6_DROP}"),
    "firewall.ipv6_missing": lambda ls: [],
}


def ruleset(defects: frozenset[str] = frozenset(), fmt: str = "iptables",
            out_dir: Path | None = None) -> Path:
    """Write the reference ruleset with the firewall.* defects in `defects` applied; other
    switches are ignored. Returns the file's path (in out_dir). iptables: the iptables-save and
    ip6tables-save outputs concatenated in one file (IPv4 first)."""
    if out_dir is None:
        raise ValueError("out_dir is required")
    wanted = sorted(d for d in defects if d.startswith("firewall."))
    unknown = [d for d in wanted if d not in FIREWALL_DEFECTS]
    if unknown:
        raise ValueError(f"unknown firewall defect(s) {unknown}; known: {sorted(FIREWALL_DEFECTS)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    if fmt == "iptables":
        lines = IPTABLES_SOURCE.read_text(encoding="utf-8").splitlines()
        lines6 = IP6TABLES_SOURCE.read_text(encoding="utf-8").splitlines()
        for defect in wanted:
            lines = _IPT_EDITS[defect](lines) if defect in _IPT_EDITS else lines
            lines6 = _IP6T_EDITS[defect](lines6) if defect in _IP6T_EDITS else lines6
        path = out_dir / "ruleset.iptables"
        path.write_text("\n".join(lines + lines6) + "\n", encoding="utf-8")
    elif fmt == "nft":
        doc = json.loads(NFT_SOURCE.read_text(encoding="utf-8"))
        for defect in wanted:
            doc = _nft_edit(doc, defect)
        path = out_dir / "ruleset.nft.json"
        path.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    else:
        raise ValueError(f"fmt must be 'iptables' or 'nft', not {fmt!r}")
    return path


def split_families(text: str) -> tuple[str, str]:
    """The IPv4 and IPv6 halves of a file `ruleset(fmt="iptables")` wrote (for iptables-restore
    and ip6tables-restore, which each read one family)."""
    marker = "# Generated by ip6tables-save"
    at = text.find(marker)
    return (text, "") if at < 0 else (text[:at], text[at:])


def _after(lines: list[str], anchor: str, new: str) -> list[str]:
    at = lines.index(anchor)  # ValueError here means the reference file changed: fix the anchor
    return lines[:at + 1] + [new] + lines[at + 1:]


# ---- nft -j edits -------------------------------------------------------------------------

def _rules(doc: dict[str, Any], chain: str) -> list[dict[str, Any]]:
    return [item["rule"] for item in doc["nftables"] if "rule" in item and item["rule"]["chain"] == chain]


def _new_rule(doc: dict[str, Any], chain: str, expr: list[Any], comment: str | None = None) -> dict[str, Any]:
    handles = [item[k].get("handle", 0) for item in doc["nftables"] for k in item
               if isinstance(item[k], dict) and k != "metainfo"]
    rule: dict[str, Any] = {"family": "inet", "table": "filter", "chain": chain,
                            "handle": max(handles) + 1, "expr": expr}
    if comment:
        rule["comment"] = comment
    return {"rule": rule}


def _index_of(doc: dict[str, Any], rule: dict[str, Any]) -> int:
    return next(i for i, item in enumerate(doc["nftables"]) if item.get("rule") is rule)


def _nft_edit(doc: dict[str, Any], defect: str) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    items = doc["nftables"]
    if defect == "firewall.default_accept":
        for item in items:
            if "chain" in item and item["chain"]["name"] == "input":
                item["chain"]["policy"] = "accept"
        items.pop(_index_of(doc, _rules(doc, "input")[-1]))  # the final 'jump log_drop'
    elif defect == "firewall.inbound_not_restricted":
        for rule in _rules(doc, "input"):
            rule["expr"] = [{"accept": None} if e == {"jump": {"target": "gateway_in"}} else e for e in rule["expr"]]
    elif defect == "firewall.ssh_open":
        for rule in _rules(doc, "input"):
            if rule.get("comment") == "management ssh":
                # Still an IPv4 rule (nfproto), so the IPv6 one after it is not made redundant.
                rule["expr"] = [_NFPROTO_IPV4] + [
                    e for e in rule["expr"] if not _matches_field(e, ("iifname", "saddr"))]
    elif defect == "firewall.egress_open":
        _rules(doc, "output")[-1]["expr"] = [{"accept": None}]
    elif defect == "firewall.any_any":
        items.append(_new_rule(doc, "forward", [{"accept": None}]))
    elif defect == "firewall.shadowed_rule":
        anchor = next(r for r in _rules(doc, "gateway_in") if r.get("comment") == "national gateway A")
        blocked = _new_rule(doc, "gateway_in", [
            {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}},
                       "right": "203.0.113.66"}}, {"drop": None}], comment="blocked gateway host")
        items.insert(_index_of(doc, anchor) + 1, blocked)
    elif defect == "firewall.ipv6_open":
        for chain in ("output", "forward", "input"):
            first = _first_rule_index(doc, chain)
            items.insert(first, _new_rule(doc, chain, [_nfproto("ipv6"), {"accept": None}]))
    elif defect == "firewall.icmpv6_dropped":
        for chain in ("input", "output"):
            for rule in _rules(doc, chain):
                if any(_matches_protocol(e, "icmpv6") for e in rule["expr"]):
                    items.pop(_index_of(doc, rule))
            items.insert(_first_rule_index(doc, chain), _new_rule(doc, chain, [
                {"match": {"op": "==", "left": {"meta": {"key": "l4proto"}}, "right": "ipv6-icmp"}},
                {"drop": None}], comment="block ping (IPv6)"))
    elif defect == "firewall.ipv6_missing":
        # An IPv4-only table: every IPv6-only rule goes and the table becomes family ip.
        doc["nftables"] = [item for item in items if not _ipv6_only(item)]
        for item in doc["nftables"]:
            for body in item.values():
                if isinstance(body, dict) and body.get("family") == "inet":
                    body["family"] = "ip"
                for expr in body.get("expr", []) if isinstance(body, dict) else []:
                    if expr.get("reject", {}).get("type") == "icmpx":  # inet-only: icmp in ip tables
                        expr["reject"]["type"] = "icmp"
    return doc


_NFPROTO_IPV4 = {"match": {"op": "==", "left": {"meta": {"key": "nfproto"}}, "right": "ipv4"}}


def _nfproto(family: str) -> dict[str, Any]:
    return {"match": {"op": "==", "left": {"meta": {"key": "nfproto"}}, "right": family}}


def _first_rule_index(doc: dict[str, Any], chain: str) -> int:
    rules = _rules(doc, chain)
    if rules:
        return _index_of(doc, rules[0])
    return next(i for i, item in enumerate(doc["nftables"])
                if "chain" in item and item["chain"]["name"] == chain) + 1


def _matches_protocol(expr: Any, protocol: str) -> bool:
    left = expr.get("match", {}).get("left", {}) if isinstance(expr, dict) else {}
    return bool(left.get("payload", {}).get("protocol") == protocol)


def _ipv6_only(item: dict[str, Any]) -> bool:
    rule = item.get("rule")
    return isinstance(rule, dict) and any(
        _matches_protocol(e, "ip6") or _matches_protocol(e, "icmpv6") for e in rule["expr"])


def _matches_field(expr: Any, names: tuple[str, ...]) -> bool:
    left = expr.get("match", {}).get("left", {}) if isinstance(expr, dict) else {}
    return left.get("meta", {}).get("key") in names or left.get("payload", {}).get("field") in names


# ---- the deployed host (FW-LIVE-EXPOSURE) ---------------------------------------------------

class DeployedHost:
    """The reference host as the lab deploys it, dual-stack on loopback. The scan always probes
    one extra port it holds; with firewall.live_port_open a stray service listens there (a
    forgotten debug console the declared ruleset drops), else the port is only bound, so a
    connect is refused and no other process can take it meanwhile."""

    def __init__(self, defects: frozenset[str] = frozenset()) -> None:
        self.listening = "firewall.live_port_open" in defects
        self.sockets: list[socket.socket] = []
        self.port = 0
        self._stop = threading.Event()

    def __enter__(self) -> Self:
        for family, address in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
            try:
                sock = socket.socket(family, socket.SOCK_STREAM)
                if family == socket.AF_INET6:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                sock.bind((address, self.port))
            except OSError:
                continue  # no ::1 here: the lab is IPv4 only
            self.port = sock.getsockname()[1]
            self.sockets.append(sock)
            if self.listening:
                sock.listen(16)
                sock.settimeout(0.2)
                threading.Thread(target=self._serve, args=(sock,), daemon=True,
                                 name="city-stray-service").start()
        return self

    def _serve(self, sock: socket.socket) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = sock.accept()
            except OSError:
                continue
            conn.close()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        for sock in self.sockets:
            sock.close()

    @property
    def addresses(self) -> list[str]:
        return [s.getsockname()[0] for s in self.sockets]

    def run_config(self, defects: frozenset[str], out_dir: Path) -> dict[str, Any]:
        """The firewall and scope parts of the lab's run config: the ruleset, the host's addresses
        and the live scan (popcert plays the national portal, so it stands for the gateways)."""
        return {"firewall": {"ruleset": str(ruleset(defects, "iptables", out_dir)),
                             "addresses": self.addresses or ["127.0.0.1"],
                             # the lab shares loopback with the machine's own services (an
                             # sshd, a database): probe the host's ports, not the baseline's
                             "live": {"ports": [self.port] if self.port else [],
                                      "baseline_ports": False, "stands_for": "gateway"}},
                "scope": {"allowed_hosts": ["127.0.0.1", "localhost", *self.addresses]}}
