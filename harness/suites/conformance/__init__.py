"""Conformance suite: schemathesis fuzzes every bearer-protected operation of connection/v1.

The fuzz run happens once, in the suite context (``context.py``); each CONF- check (``checks.py``)
reads its share of the outcome (failures are attributed by root cause in ``mapping``); ``suite.py``
declares them in run order (``SUITE``). The notifications webhook is HMAC-signed, not
bearer-protected, so it is left to the scenario and auth suites (docs/conformance.md). A run that
cannot start (no spec, target out of scope, no portal token) stops the suite (SuiteUnavailable).

This module imports nothing (harness/registry.py: one template for every suite): the schemathesis
child loads ``guard`` as its hooks module, which imports this package first.
"""
