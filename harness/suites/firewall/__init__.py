"""Firewall policy suite: parse iptables/ip6tables-save and nft -j rulesets, prove properties over
all packets of each address family, and cross-check the declared ruleset against the live host.

``context`` reads the vendor's ruleset file(s) and the national baseline once (``FirewallContext``);
the checks (``checks.py``, ``icmpv6.py``, ``exposure.py``) ask questions of that analysis; ``suite``
declares them in run order (``SUITE``). A ruleset that cannot be read stops the suite
(SuiteUnavailable). State the checks share: none besides the context.

This module imports nothing (harness/registry.py: one template for every suite).
"""
