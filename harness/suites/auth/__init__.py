"""The auth suite: black-box attacks on the SUT's caller authentication (bearer JWTs of the
national token service), authorisation, rate limiting, notification signatures and mTLS.

``context`` holds what every AUTH check receives (``AuthContext``) and its factory; ``suite``
declares the run order and the state checks share (``SUITE``). The checks are in ``tokens``
(forged and misused bearer tokens), ``notify`` (the NPDB webhook), ``mtls``, ``tenancy`` (lists
and Idempotency-Keys per client) and ``access`` (scopes, object level, body limit, error leaks,
rate limit); ``probe`` turns answers into results, ``forge`` builds the forged tokens,
``attacker`` is the attacker's key server and ``spec`` reads specs/connection/v1. Every check
sends forged or misused credentials and expects a refusal; docs/auth.md lists them. A run without
the mock NPDB stops the suite (SuiteUnavailable).

This module imports nothing (harness/registry.py: one template for every suite).
"""
