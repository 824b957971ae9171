"""The load suite's declaration: its checks in run order.

State the checks share: none; they all read the one (frozen) locust outcome.
"""

from __future__ import annotations

from harness.registry import Suite
from harness.suites.load.checks import error_rate, latency_p95, latency_p99, throughput
from harness.suites.load.context import LoadContext, make_context

SUITE = Suite[LoadContext]("load", make_context, checks=(
    throughput, latency_p95, latency_p99, error_rate))
