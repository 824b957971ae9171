"""Client side of the token service, for tests, the benchmark and the harness: build a
private_key_jwt assertion and fetch an access token from a running mock."""

from __future__ import annotations

import ssl
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import jwt

from popcert_npdb.pki import load_private_key

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def tls_context(ca_path: Path, cert_path: Path | None = None,
                key_path: Path | None = None) -> ssl.SSLContext:
    """Trust the national CA, optionally present a client certificate.
    (httpx 0.28 ignores ``cert=`` next to a path ``verify=``: pass this context as ``verify``.)"""
    ctx = ssl.create_default_context(cafile=str(ca_path))
    if cert_path is not None:
        ctx.load_cert_chain(cert_path, key_path)
    return ctx


def client_assertion(key_path: Path, client_id: str, token_url: str, **claims: Any) -> str:
    now = int(time.time())
    body = {"iss": client_id, "sub": client_id, "aud": token_url, "iat": now, "exp": now + 60,
            "jti": uuid.uuid4().hex, **claims}
    return jwt.encode(body, load_private_key(key_path), algorithm="ES256")


def fetch_token(token_url: str, ca_path: Path, key_path: Path, client_id: str = "city-system",
                scope: str | None = None, audience: str | None = None) -> str:
    """An access token for ``client_id`` by private_key_jwt; raises on any non-200 answer."""
    form = {"grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": client_assertion(key_path, client_id, token_url)}
    if scope:
        form["scope"] = scope
    if audience:
        form["audience"] = audience
    with httpx.Client(verify=tls_context(ca_path), timeout=10, trust_env=False) as http:
        resp = http.post(token_url, data=form)
    resp.raise_for_status()
    return str(resp.json()["access_token"])
