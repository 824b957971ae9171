"""The reference city system's firewall ruleset, with the firewall.* defect switches applied.

The compliant rulesets live in examples/city_system/firewall/ (iptables-save and nft -j). Each
defect is a small, realistic edit that breaks exactly one FW- check of the firewall suite.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent / "firewall"
IPTABLES_SOURCE = HERE / "ruleset.iptables"
NFT_SOURCE = HERE / "ruleset.nft.json"

FIREWALL_DEFECTS: dict[str, str] = {
    "firewall.default_accept": "INPUT policy ACCEPT and no final catch-all drop",
    "firewall.inbound_not_restricted": "port 443 accepted from any source, not only the national gateways",
    "firewall.ssh_open": "SSH accepted from any source, not only the management network",
    "firewall.egress_open": "every new outbound connection accepted, not only to the NPDB",
    "firewall.any_any": "an accept-everything rule in FORWARD",
    "firewall.shadowed_rule": "a block rule for one gateway host placed after the gateway's accept",
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


def ruleset(defects: frozenset[str] = frozenset(), fmt: str = "iptables",
            out_dir: Path | None = None) -> Path:
    """Write the reference ruleset with the firewall.* defects in `defects` applied; other
    switches are ignored. Returns the file's path (in out_dir)."""
    if out_dir is None:
        raise ValueError("out_dir is required")
    wanted = sorted(d for d in defects if d.startswith("firewall."))
    unknown = [d for d in wanted if d not in FIREWALL_DEFECTS]
    if unknown:
        raise ValueError(f"unknown firewall defect(s) {unknown}; known: {sorted(FIREWALL_DEFECTS)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    if fmt == "iptables":
        lines = IPTABLES_SOURCE.read_text(encoding="utf-8").splitlines()
        for defect in wanted:
            lines = _IPT_EDITS[defect](lines)
        path = out_dir / "ruleset.iptables"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    elif fmt == "nft":
        doc = json.loads(NFT_SOURCE.read_text(encoding="utf-8"))
        for defect in wanted:
            doc = _nft_edit(doc, defect)
        path = out_dir / "ruleset.nft.json"
        path.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    else:
        raise ValueError(f"fmt must be 'iptables' or 'nft', not {fmt!r}")
    return path


def _after(lines: list[str], anchor: str, new: str) -> list[str]:
    at = lines.index(anchor)  # ValueError here means the reference file changed: fix the anchor
    return lines[:at + 1] + [new] + lines[at + 1:]


# ---- nft -j edits -------------------------------------------------------------------------

def _rules(doc: dict[str, Any], chain: str) -> list[dict[str, Any]]:
    return [item["rule"] for item in doc["nftables"] if "rule" in item and item["rule"]["chain"] == chain]


def _new_rule(doc: dict[str, Any], chain: str, expr: list[Any], comment: str | None = None) -> dict[str, Any]:
    handles = [item[k].get("handle", 0) for item in doc["nftables"] for k in item if isinstance(item[k], dict)]
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
                rule["expr"] = [e for e in rule["expr"] if not _matches_field(e, ("iifname", "saddr"))]
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
    return doc


def _matches_field(expr: Any, names: tuple[str, ...]) -> bool:
    left = expr.get("match", {}).get("left", {}) if isinstance(expr, dict) else {}
    return left.get("meta", {}).get("key") in names or left.get("payload", {}).get("field") in names
