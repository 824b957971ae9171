"""The suites. Each module registers its checks and its context factory when imported."""

from __future__ import annotations

import importlib
import importlib.util

SUITE_MODULES = {
    "firewall": "harness.suites.firewall.checks",
    "sast": "harness.suites.sast",
    "tls": "harness.suites.tls",
    "auth": "harness.suites.auth",
    "conformance": "harness.suites.conformance",
    "scenario": "harness.suites.scenarios",
    "load": "harness.suites.load",
}


def load_all_suites() -> list[str]:
    """Import every suite module that is installed; returns the suites loaded.

    tests/unit/test_registry.py asserts every suite is present, so a missing module is caught.
    """
    loaded = []
    for suite, module in SUITE_MODULES.items():
        if importlib.util.find_spec(module) is not None:
            importlib.import_module(module)
            loaded.append(suite)
    return loaded
