"""The SAST suite: bandit, popcert's TLS-verification rule and a secrets scan over ``source.path``.

Severity/confidence thresholds come from the profile (``thresholds.sast``); findings an assessor
accepted are listed in ``source.baseline`` (see baseline.py). Every finding is evidence with file
and line, which the SARIF renderer turns into results. A file the checks could not analyse is
listed; a Python one fails each check unless the baseline excludes it (no dodging by file size,
folder name or symlink). The context (here) holds the settings and shares one inventory and one
Python analysis between the checks (``checks.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harness.registry import Suite

    SUITE: Suite


# The parsing child (``python -m harness.suites.sast.worker``) imports this package first.
def __getattr__(name: str) -> Any:
    from harness.registry import declare_on_first_use

    return declare_on_first_use(__name__, name, _declare)


def _declare() -> Suite:
    from harness.registry import Suite
    from harness.suites.sast.checks import (
        bandit_clean,
        no_hardcoded_secrets,
        tls_verification_kept,
    )
    from harness.suites.sast.context import make_context

    return Suite("sast", make_context, checks=(bandit_clean, tls_verification_kept,
                                               no_hardcoded_secrets))
