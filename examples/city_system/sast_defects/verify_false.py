"""sast.verify_false overlay: a legacy registry client that turns off TLS certificate checks.

Deliberately insecure (SAST-BANDIT must flag B501); copied into the scanned tree only when the
switch is on, never imported by the running system.
"""

from __future__ import annotations

import requests


def fetch_household_registry(url: str) -> dict[str, object]:
    # The defect: an attacker on the path can impersonate the registry.
    response = requests.get(url, verify=False, timeout=10)
    response.raise_for_status()
    return dict(response.json())
