"""Firewall policy suite: parse iptables-save / nft -j rulesets and prove properties over all packets."""
