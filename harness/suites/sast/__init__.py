"""The SAST suite: bandit, popcert's TLS-verification rule and a secrets scan over ``source.path``.

Severity/confidence thresholds come from the profile (``thresholds.sast``); findings an assessor
accepted are listed in ``source.baseline`` (see baseline.py). Every finding is evidence with file
and line, which the SARIF renderer turns into results. A file the checks could not analyse is
listed; a Python one fails each check unless the baseline excludes it (no dodging by file size,
folder name or symlink). The context (here) holds the settings and shares one inventory and one
Python analysis between the checks (``checks.py``).
"""

from __future__ import annotations

from typing import Any


# The parsing child (``python -m harness.suites.sast.worker``) imports this package first; built
# on first use (PEP 562), the suite costs the child nothing: 0.15 s instead of 0.4 s per child.
def __getattr__(name: str) -> Any:
    if name != "SUITE":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from harness.registry import Suite
    from harness.suites.sast.checks import (
        bandit_clean,
        no_hardcoded_secrets,
        tls_verification_kept,
    )
    from harness.suites.sast.context import make_context

    suite = Suite("sast", make_context, checks=(bandit_clean, tls_verification_kept,
                                                no_hardcoded_secrets))
    globals()["SUITE"] = suite
    return suite
