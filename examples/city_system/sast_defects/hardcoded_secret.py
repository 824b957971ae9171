"""sast.hardcoded_secret overlay: credentials for a legacy registry committed to the code.

Deliberately insecure (SAST-SECRETS must flag it); the values are fake and unusable. Copied into the
scanned tree only when the switch is on, never imported by the running system.
"""

from __future__ import annotations

REGISTRY_USER = "city-registry"
REGISTRY_PASSWORD = "Hn2024!registry-admin"

REGISTRY_SIGNING_KEY = """-----BEGIN EC PRIVATE KEY-----
(fake key material for the popcert detection matrix: not a usable key)
-----END EC PRIVATE KEY-----"""


def registry_credentials() -> tuple[str, str]:
    return REGISTRY_USER, REGISTRY_PASSWORD
