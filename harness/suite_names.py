"""The suites popcert ships: the one list of their names, in run order, and their packages.

Each package's ``__init__`` declares ``SUITE = Suite(name, context_factory, checks=(...))``
(harness/registry.py). This module imports nothing: the config and the check model validate
suite names against ``SUITE_NAMES`` without loading any suite.
"""

from __future__ import annotations

from typing import Literal, get_args

# Run order: static analysis first (no traffic), then the live suites, load last.
SuiteName = Literal["firewall", "sast", "tls", "auth", "conformance", "scenario", "load"]
SUITE_NAMES: tuple[SuiteName, ...] = get_args(SuiteName)

DEFAULT_SUITES: tuple[str, ...] = (
    "harness.suites.firewall",
    "harness.suites.sast",
    "harness.suites.tls",
    "harness.suites.auth",
    "harness.suites.conformance",
    "harness.suites.scenario",
    "harness.suites.load",
)

