"""Scenario suite: procedures driven end to end, judged on the mock NPDB's audit log.

``context`` runs every scenario of scenarios/ once (``runner``; the YAML model is ``model``); each
SCN- check (``checks.py``) reads the recorded steps; ``suite`` declares them in run order
(``SUITE``). A run that cannot start (no mock NPDB, a malformed scenario or purposes file) stops
the suite (SuiteUnavailable).

This module imports nothing (harness/registry.py: one template for every suite).
"""
