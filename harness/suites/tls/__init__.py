"""The TLS suite: the SUT's HTTPS endpoint judged from one sslyze scan.

``context`` scans once (``scan.scan``); each check (``checks.py``) reads that scan through the
pure judgements in ``analysis``; ``suite`` declares them in run order (``SUITE``). An endpoint
that cannot be scanned stops the suite (SuiteUnavailable).

This module imports nothing (harness/registry.py: one template for every suite).
"""
