"""Load a ruleset file in either format: the one entry point the suite and the tools use."""

from __future__ import annotations

from pathlib import Path

from harness.suites.firewall.model import RulesetParseError, Ruleset
from harness.suites.firewall.parse_iptables import parse_iptables
from harness.suites.firewall.parse_nft import parse_nft_json

FORMATS = ("auto", "iptables", "nft")


def load_ruleset(path: Path | str, fmt: str = "auto") -> Ruleset:
    path = Path(path)
    if fmt not in FORMATS:
        raise RulesetParseError(path, None, f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RulesetParseError(path, None, f"cannot read ruleset: {exc}") from None
    if fmt == "auto":
        # nft -j output is a JSON object; iptables-save output is line-oriented text.
        fmt = "nft" if text.lstrip().startswith("{") else "iptables"
    return parse_nft_json(text, path) if fmt == "nft" else parse_iptables(text, path)
