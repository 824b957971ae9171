"""The load suite: one locust run of portal traffic, judged against the profile's thresholds.

The context factory (``context.py``) runs locust once, in subprocesses bounded in time and
requests; every LOAD-* check (``checks.py``) reads the same statistics through the pure decisions
in ``thresholds.py``; ``suite.py`` declares them in run order (``SUITE``).

This module imports nothing (harness/registry.py: one template for every suite): locust's own
processes import ``body`` and ``latency`` from this package (load/locustfile.py) and must not
load the suite, pydantic or the requirements catalogue.
"""
