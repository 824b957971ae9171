"""The suites popcert ships: the one list of their names, in run order, their check id prefixes
and their declaration modules.

Each package's ``suite.py`` declares ``SUITE = Suite[XContext](name, make_context, checks=(...))``
(harness/registry.py). This module imports nothing: the config and the registry validate suite
names against ``SUITE_NAMES`` without loading any suite.
"""

from __future__ import annotations

from typing import Literal, get_args

# Run order: static analysis first (no traffic), then the live suites, load last.
SuiteName = Literal["firewall", "sast", "tls", "auth", "conformance", "scenario", "load"]
SUITE_NAMES: tuple[SuiteName, ...] = get_args(SuiteName)

DEFAULT_SUITES: tuple[str, ...] = (
    "harness.suites.firewall.suite",
    "harness.suites.sast.suite",
    "harness.suites.tls.suite",
    "harness.suites.auth.suite",
    "harness.suites.conformance.suite",
    "harness.suites.scenario.suite",
    "harness.suites.load.suite",
)


# Every check id of a suite starts with its prefix and a dash (AUTH-JWT-EXPIRED): the suite's
# declaration refuses a check named for another suite.
CHECK_ID_PREFIX: dict[str, str] = {
    "firewall": "FW", "sast": "SAST", "tls": "TLS", "auth": "AUTH", "conformance": "CONF",
    "scenario": "SCN", "load": "LOAD"}
