"""The scenario suite's declaration: its checks in run order.

State the checks share: none; they all read the steps the factory recorded.
"""

from __future__ import annotations

from harness.registry import Suite
from harness.suites.scenario.checks import (
    call_budget,
    data_minimisation,
    fault_no_loss,
    fault_rate_limit,
    fault_retry,
    outcome,
    own_credentials,
    purpose_code,
    request_id,
)
from harness.suites.scenario.context import ScenarioContext, make_context

SUITE = Suite[ScenarioContext]("scenario", make_context, checks=(
    own_credentials, purpose_code, data_minimisation, call_budget, outcome, fault_no_loss,
    fault_retry, fault_rate_limit, request_id))
