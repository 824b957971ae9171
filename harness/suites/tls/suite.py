"""The TLS suite's declaration: its checks in run order.

State the checks share: none; they all read the one (frozen) scan.
"""

from __future__ import annotations

from harness.registry import Suite
from harness.suites.tls.checks import (
    certificate_chain_valid,
    certificate_matches_host,
    certificate_not_expiring,
    mozilla_intermediate,
    no_legacy_protocols,
    strong_ciphers_only,
)
from harness.suites.tls.context import TlsContext, make_context

SUITE = Suite[TlsContext]("tls", make_context, checks=(
    no_legacy_protocols, strong_ciphers_only, certificate_chain_valid, certificate_matches_host,
    certificate_not_expiring, mozilla_intermediate))
