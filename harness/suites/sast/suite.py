"""The SAST suite's declaration: its checks in run order and the state they share."""

from __future__ import annotations

from harness.registry import Suite
from harness.suites.sast.checks import (
    bandit_clean,
    no_hardcoded_secrets,
    tls_verification_kept,
)
from harness.suites.sast.context import SastContext, make_context

SUITE = Suite[SastContext]("sast", make_context, checks=(
    bandit_clean, tls_verification_kept, no_hardcoded_secrets),
    state={
        "_inventory": (
            "SastContext.files(): the source inventory, walked by whichever check asks first "
            "(every SAST check lists the files it could not analyse from it) and shared"),
        "_analysis": (
            "SastContext.python(): bandit and the TLS rule over the Python files, run in bounded "
            "children by the first check that asks (SAST-BANDIT or SAST-TLS-VERIFY) and read by "
            "the other"),
    })
