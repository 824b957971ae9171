"""The firewall suite's declaration: its checks in run order.

State the checks share: none besides the (read-only) context; FW-LIVE-EXPOSURE scans when it
runs and keeps its probes in its own evidence.
"""

from __future__ import annotations

from harness.registry import Suite
from harness.suites.firewall.checks import (
    admin_ports_management_only,
    default_deny_inbound,
    egress_npdb_only,
    inbound_gateway_only,
    no_any_any,
    no_shadowed_rules,
)
from harness.suites.firewall.context import FirewallContext, make_context
from harness.suites.firewall.exposure import live_exposure
from harness.suites.firewall.icmpv6 import icmpv6_essential

SUITE = Suite[FirewallContext]("firewall", make_context, checks=(
    default_deny_inbound, inbound_gateway_only, admin_ports_management_only, egress_npdb_only,
    no_any_any, no_shadowed_rules, icmpv6_essential, live_exposure))
