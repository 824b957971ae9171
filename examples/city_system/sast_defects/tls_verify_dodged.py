"""sast.tls_verify_dodged overlay: TLS verification switched off in ways a deny-list misses.

Deliberately insecure (SAST-TLS-VERIFY must flag it; issue 24): no literal ``verify=False`` and no
``CERT_NONE`` anywhere, so bandit's B501 and the old deny-list rule both passed it, yet each of the
three really skips verification (requests treats a falsy ``verify`` as "do not verify"). Copied
into the scanned tree only when the switch is on, never imported by the running system.
"""

from __future__ import annotations

import functools
import os

import requests

_STRICT_TLS = bool(0)


def registry_session() -> requests.Session:
    session = requests.Session()
    setattr(session, "verify", _STRICT_TLS)  # noqa: B010 - the dodge itself
    return session


def legacy_fetch() -> functools.partial[requests.Response]:
    return functools.partial(requests.get, timeout=10, **{"ver" + "ify": ""})


def legacy_environment() -> None:
    os.environ["CURL_CA_BUNDLE"] = ""
