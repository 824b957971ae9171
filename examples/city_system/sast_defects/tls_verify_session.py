"""sast.tls_verify_session overlay: a pooled registry client whose calls turn off TLS verification.

Deliberately insecure (SAST-TLS-VERIFY must flag it): the session is built in a helper, so the call
is ``session.post(...)``, which bandit's B501 (it knows ``requests.post``) does not see. Copied into
the scanned tree only when the switch is on, never imported by the running system.
"""

from __future__ import annotations

import requests


def registry_session() -> requests.Session:
    session = requests.Session()
    session.headers["User-Agent"] = "city-system/1.0"
    return session


def push_household_change(session: requests.Session, url: str, change: dict[str, object]) -> int:
    # The defect: the registry's certificate is never checked on this call.
    response = session.post(url, json=change, verify=False, timeout=10)
    return response.status_code
