"""The conformance suite's declaration: its checks in run order.

State the checks share: none; they all read the one fuzzing run, the latency timings and the
published spec the factory made (results it builds before the first check runs).
"""

from __future__ import annotations

from harness.registry import Suite
from harness.suites.conformance.checks import (
    accepts_valid_input,
    auth_enforced,
    documented_content_types,
    documented_status_codes,
    latency_budget,
    missing_required_header,
    no_server_errors,
    rejects_invalid_input,
    response_time,
    responses_match_schema,
    spec_drift,
    stateful_links,
)
from harness.suites.conformance.context import ConformanceContext, make_context

SUITE = Suite[ConformanceContext]("conformance", make_context, checks=(
    no_server_errors, documented_status_codes, documented_content_types,
    responses_match_schema, rejects_invalid_input, accepts_valid_input, missing_required_header,
    auth_enforced, stateful_links,
    response_time, latency_budget, spec_drift))
