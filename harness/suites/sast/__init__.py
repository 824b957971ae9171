"""The SAST suite: bandit, popcert's TLS-verification rule and a secrets scan over ``source.path``.

Severity/confidence thresholds come from the profile (``thresholds.sast``); findings an assessor
accepted are listed in ``source.baseline`` (see baseline.py). Every finding is evidence with file
and line, which the SARIF renderer turns into results. A file the checks could not analyse is
listed; a Python one fails each check unless the baseline excludes it (no dodging by file size,
folder name or symlink). The context (``context.py``) holds the settings and shares one inventory
and one Python analysis between the checks (``checks.py``); ``suite.py`` declares them (``SUITE``).

This module imports nothing (harness/registry.py: one template for every suite): the parsing
child (``python -m harness.suites.sast.worker``) imports this package first.
"""
