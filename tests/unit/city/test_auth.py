"""Caller authentication: each token rule holds when compliant and breaks under its own switch."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from popcert_city.auth import AuthError, TokenValidator, public_key_pem, require_scope

ISSUER = "https://id.npdb.test"
JWKS_URL = "https://127.0.0.1:1/.well-known/jwks.json"
JKU_URL = "http://127.0.0.1:9/attacker/jwks.json"
ATTACKER_KEY = ec.generate_private_key(ec.SECP256R1())


def attacker_jwks() -> dict[str, Any]:
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(ATTACKER_KEY.public_key()))
    return {"keys": [{**jwk, "kid": "attacker", "alg": "ES256"}]}


@pytest.fixture
def validator(minter) -> TokenValidator:  # type: ignore[no-untyped-def]
    async def fetch(url: str) -> dict[str, Any]:
        return attacker_jwks() if url == JKU_URL else minter.public_jwks()
    return TokenValidator(issuer=ISSUER, audience="connection-api", jwks_url=JWKS_URL, fetch_jwks=fetch)


def authenticate(validator: TokenValidator, token: str | None) -> Any:
    return asyncio.run(validator.authenticate(None if token is None else f"Bearer {token}"))


def refused(validator: TokenValidator, token: str | None) -> bool:
    try:
        authenticate(validator, token)
    except AuthError as exc:
        assert exc.status == 401
        return True
    return False


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hs256_with_pem(minter) -> str:  # type: ignore[no-untyped-def]
    jwk = next(k for k in minter.public_jwks()["keys"] if k["kid"] == minter.kid)
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": minter.kid}).encode())
    claims = b64(json.dumps(minter.claims("portal", "dossier.submit dossier.read")).encode())
    mac = hmac.new(public_key_pem(jwk), f"{header}.{claims}".encode(), hashlib.sha256).digest()
    return f"{header}.{claims}.{b64(mac)}"


# Each case: defect switch -> a forged/invalid token that exactly this switch lets through.
FORGERIES = {
    "auth.exp_not_checked": lambda m: m.mint("portal", "dossier.read", exp=int(time.time()) - 3600),
    "auth.nbf_not_checked": lambda m: m.mint("portal", "dossier.read", nbf=int(time.time()) + 3600),
    "auth.iss_not_checked": lambda m: m.mint("portal", "dossier.read", iss="https://evil.example"),
    "auth.aud_not_checked": lambda m: m.mint("portal", "dossier.read", audience="npdb"),
    "auth.alg_none_accepted": lambda m: m.mint_with(claims=m.claims("portal", "dossier.read"), algorithm="none"),
    "auth.stripped_signature_accepted": lambda m: m.mint("portal", "dossier.read").rsplit(".", 1)[0] + ".",
    "auth.unknown_key_accepted": lambda m: m.mint_with(header={"kid": "not-in-jwks"},
                                                      claims=m.claims("portal", "dossier.read"), key=ATTACKER_KEY),
    "auth.jku_followed": lambda m: m.mint_with(header={"kid": "attacker", "jku": JKU_URL},
                                              claims=m.claims("portal", "dossier.read"), key=ATTACKER_KEY),
    "auth.hs256_key_confusion": hs256_with_pem,
}


def test_valid_token_gives_client_and_scopes(validator, minter) -> None:  # type: ignore[no-untyped-def]
    caller = authenticate(validator, minter.mint("portal", "dossier.submit dossier.read"))
    assert caller.client_id == "portal"
    assert caller.scopes == {"dossier.submit", "dossier.read"}


@pytest.mark.parametrize("name", sorted(FORGERIES))
def test_forgery_refused_when_compliant(name: str, validator, minter) -> None:  # type: ignore[no-untyped-def]
    assert refused(validator, FORGERIES[name](minter))


@pytest.mark.parametrize("name", sorted(FORGERIES))
def test_forgery_accepted_only_under_its_switch(name: str, validator, minter, switch) -> None:  # type: ignore[no-untyped-def]
    switch(name)
    assert not refused(validator, FORGERIES[name](minter))
    # the switch breaks only its own rule: the other forgeries are still refused
    others = [n for n in FORGERIES if n != name]
    assert all(refused(validator, FORGERIES[n](minter)) for n in others), name


def test_missing_token(validator, switch) -> None:  # type: ignore[no-untyped-def]
    assert refused(validator, None)
    switch("auth.no_token_accepted")
    assert authenticate(validator, None).client_id == "anonymous"


def test_malformed_token(validator, switch) -> None:  # type: ignore[no-untyped-def]
    assert refused(validator, "not-a-jwt")
    switch("auth.malformed_token_500")
    with pytest.raises(RuntimeError):
        authenticate(validator, "not-a-jwt")


def test_scope(validator, minter, switch) -> None:  # type: ignore[no-untyped-def]
    reader = authenticate(validator, minter.mint("portal-readonly", "dossier.read"))
    with pytest.raises(AuthError) as refused_scope:
        require_scope(reader, "dossier.submit")
    assert refused_scope.value.status == 403
    switch("auth.scope_not_enforced")
    require_scope(reader, "dossier.submit")


def test_other_algorithms_refused(validator, minter) -> None:  # type: ignore[no-untyped-def]
    rs_key = __import__("cryptography.hazmat.primitives.asymmetric.rsa", fromlist=["x"]).generate_private_key(
        public_exponent=65537, key_size=2048)
    token = minter.mint_with(claims=minter.claims("portal", "dossier.read"), key=rs_key, algorithm="RS256")
    assert refused(validator, token)
    assert refused(validator, hs256_with_pem(minter))
