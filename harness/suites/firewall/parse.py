"""Load ruleset files in any supported format: the one entry point the suite and the tools use.

`load_families` returns one Ruleset per address family the files hold: an nft JSON dump gives its
ip/ip6/inet views, iptables-save text gives one per *filter table (IPv4, IPv6, or both when the two
tools' outputs are concatenated). The family is read from the content; `fmt` forces it.
"""

from __future__ import annotations

from pathlib import Path

from harness.suites.firewall.model import Ruleset, RulesetParseError
from harness.suites.firewall.parse_iptables import parse_iptables_families
from harness.suites.firewall.parse_nft import parse_nft_families

FORMATS = ("auto", "iptables", "ip6tables", "nft")
MAX_RULESET_BYTES = 64 * 1024 * 1024  # a vendor file, not a stream: refuse absurd sizes


def load_ruleset(path: Path | str, fmt: str = "auto") -> Ruleset:
    """The file's IPv4 ruleset, or its only one."""
    rulesets = load_families(path, fmt)
    return next((r for r in rulesets if r.family == "ipv4"), rulesets[0])


def load_families(path: Path | str, fmt: str = "auto") -> list[Ruleset]:
    path = Path(path)
    if fmt not in FORMATS:
        raise RulesetParseError(path, None, f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    try:
        if path.stat().st_size > MAX_RULESET_BYTES:
            raise RulesetParseError(path, None, f"larger than {MAX_RULESET_BYTES // 2**20} MiB: not a ruleset dump")
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RulesetParseError(path, None, f"cannot read ruleset: {exc}") from None
    if fmt == "auto":
        # nft -j output is a JSON object; iptables-save output is line-oriented text.
        fmt = "nft" if text.lstrip().startswith("{") else "iptables-auto"
    if fmt == "nft":
        return parse_nft_families(text, path)
    forced = {"iptables": "ipv4", "ip6tables": "ipv6"}.get(fmt)
    return parse_iptables_families(text, path, forced)
