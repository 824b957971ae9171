"""Conformance suite: schemathesis fuzzes every bearer-protected operation of connection/v1.

The fuzz run happens once, in the suite context; each CONF- check (``checks.py``) reads its share
of the outcome (failures are attributed by root cause in ``mapping``). The notifications webhook is
HMAC-signed, not bearer-protected, so it is left to the scenario and auth suites (docs/conformance.md).
A run that cannot start (no spec, target out of scope, no portal token) stops the suite
(SuiteUnavailable).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harness.registry import Suite

    SUITE: Suite


# The schemathesis child loads ``harness.suites.conformance.guard`` as its hooks module, which
# imports this package first: the suite stays out of that child.
def __getattr__(name: str) -> Any:
    from harness.registry import declare_on_first_use

    return declare_on_first_use(__name__, name, _declare)


def _declare() -> Suite:
    from harness.registry import Suite
    from harness.suites.conformance.checks import (
        auth_enforced,
        documented_content_types,
        documented_status_codes,
        latency_budget,
        no_server_errors,
        rejects_invalid_input,
        response_time,
        responses_match_schema,
        spec_drift,
        stateful_links,
    )
    from harness.suites.conformance.context import make_context

    return Suite("conformance", make_context, checks=(
        no_server_errors, documented_status_codes, documented_content_types,
        responses_match_schema, rejects_invalid_input, auth_enforced, stateful_links,
        response_time, latency_budget, spec_drift))
