"""Token forgeries of the auth suite: each is the attack it claims to be, checked offline."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import jwt
import pytest

from harness.suites.auth import forge
from popcert_city.auth import public_key_pem
from popcert_npdb.tokens import TokenMinter


@pytest.fixture(scope="module")
def minter(tmp_path_factory: pytest.TempPathFactory) -> TokenMinter:
    return TokenMinter(tmp_path_factory.mktemp("keys"))


def _segments(token: str) -> tuple[dict[str, object], dict[str, object], str]:
    header, claims, signature = token.split(".")
    return forge.decode_segment(header), forge.decode_segment(claims), signature


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
def test_unsigned_token_has_alg_none_and_no_signature(minter: TokenMinter, alg: str) -> None:
    token = forge.unsigned({"kid": minter.kid}, minter.claims("portal", "dossier.read"), alg)
    header, claims, signature = _segments(token)
    assert header["alg"] == alg and header["kid"] == minter.kid
    assert claims["client_id"] == "portal" and signature == ""


def test_stripped_token_keeps_genuine_header_and_claims(minter: TokenMinter) -> None:
    genuine = minter.mint("portal", "dossier.read")
    token = forge.stripped(genuine)
    assert token.endswith(".") and genuine.startswith(token)
    with pytest.raises(jwt.InvalidSignatureError):  # the signature really is gone
        jwt.decode(token, minter.signing_key.public_key(), algorithms=["ES256"],
                   audience="connection-api")


def test_key_confusion_uses_the_pem_a_naive_server_would_use(minter: TokenMinter) -> None:
    jwk = minter.public_jwks()["keys"][0]
    secrets = dict(forge.confusion_secrets(jwk))
    pem = public_key_pem(jwk)  # what the city system's hs256_key_confusion defect uses
    assert secrets["public key PEM"] == pem
    assert secrets["public key PEM without trailing newline"] == pem.strip()
    assert len(set(secrets.values())) == len(secrets)  # no variant sent twice
    token = forge.hs256({"kid": jwk["kid"]}, {"sub": "portal"}, pem)
    signing_input, _, signature = token.rpartition(".")
    expected = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
    assert base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)) == expected
    assert _segments(token)[0]["alg"] == "HS256"


def test_attacker_token_verifies_only_with_the_attacker_key(minter: TokenMinter) -> None:
    key = forge.new_attacker_key()
    kid = forge.attacker_kid()
    token = forge.es256({"kid": kid, "jku": "http://127.0.0.1:1/jwks.json"},
                        minter.claims("portal", "dossier.read"), key)
    header = jwt.get_unverified_header(token)
    assert header["kid"] == kid and header["jku"].endswith("/jwks.json")
    attacker_key = jwt.PyJWK(forge.attacker_jwk(key, kid)).key
    jwt.decode(token, attacker_key, algorithms=["ES256"], audience="connection-api")
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, minter.signing_key.public_key(), algorithms=["ES256"],
                   audience="connection-api")
    assert kid not in {k["kid"] for k in minter.public_jwks()["keys"]}


def test_garbage_tokens_are_not_parseable_jwts() -> None:
    for forged in forge.garbage_tokens():
        with pytest.raises(jwt.DecodeError):
            jwt.decode(forged.token, options={"verify_signature": False})
        assert forged.token.isascii()  # must fit in an HTTP header


def test_decode_segment_never_raises_on_garbage() -> None:
    assert forge.decode_segment("!!!") == {}
    assert forge.decode_segment(forge.b64url(b"[1,2]")) == {}
    assert forge.decode_segment(forge.b64url(json.dumps({"a": 1}).encode())) == {"a": 1}

