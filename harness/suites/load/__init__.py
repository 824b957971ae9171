"""The load suite: one locust run of portal traffic, judged against the profile's thresholds.

The context factory (``context.py``) runs locust once, in subprocesses bounded in time and
requests; every LOAD-* check (``checks.py``) reads the same statistics through the pure decisions
in ``thresholds.py``. This ``__init__`` stays light on purpose: locust's own processes import
``body`` and ``latency`` from this package (load/locustfile.py), so the suite declaration, with
pydantic and the requirements catalogue behind it, is imported on first use of ``SUITE``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harness.registry import Suite

    SUITE: Suite


def _declare() -> Suite:
    from harness.registry import Suite
    from harness.suites.load.checks import (
        error_rate,
        latency_p95,
        latency_p99,
        throughput,
    )
    from harness.suites.load.context import make_context

    return Suite("load", make_context, checks=(throughput, latency_p95, latency_p99, error_rate))


def __getattr__(name: str) -> Any:
    from harness.registry import declare_on_first_use

    return declare_on_first_use(__name__, name, _declare)
