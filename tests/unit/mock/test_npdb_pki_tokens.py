"""Test PKI and the token service keys: issuance, rotation grace, forged tokens refused."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import jwt
import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec

from popcert_npdb.pki import TestPKI
from popcert_npdb.tokens import KeyStore, TokenMinter, TokenVerifier


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPKI:
    return TestPKI(tmp_path_factory.mktemp("pki")).ensure()


def _load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_pki_is_idempotent_and_issues_chained_certs(pki: TestPKI) -> None:
    ca_bytes = pki.ca_path.read_bytes()
    assert pki.ensure().ca_path.read_bytes() == ca_bytes
    server = pki.issue("srv", kind="server")
    cert, ca = _load(server.cert_path), _load(pki.ca_path)
    cert.verify_directly_issued_by(ca)
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in sans.get_values_for_type(x509.DNSName)
    assert [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]


def test_client_cert_set_valid_expired_foreign(pki: TestPKI) -> None:
    certs = pki.client_cert_set("city-system")
    valid, expired, foreign = (_load(certs[k].cert_path) for k in ("valid", "expired", "foreign"))
    cn = valid.subject.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)[0].value
    assert cn == "city-system"
    assert expired.not_valid_after_utc < dt.datetime.now(dt.UTC)
    foreign.verify_directly_issued_by(_load(pki.foreign_ca_path))
    with pytest.raises((ValueError, InvalidSignature)):  # issuer name, or signature, does not match
        foreign.verify_directly_issued_by(_load(pki.ca_path))
    assert (certs["valid"].key_path.stat().st_mode & 0o077) == 0  # private keys not world-readable


def test_minted_token_has_the_contract_claims(tmp_path: Path) -> None:
    minter = TokenMinter(tmp_path)
    token = minter.mint("portal", ["dossier.submit"], audience="connection-api")
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "ES256" and header["kid"] == minter.kid
    jwks = jwt.PyJWKSet.from_dict(minter.public_jwks())
    claims = jwt.decode(token, jwks[minter.kid].key, algorithms=["ES256"], audience="connection-api")
    assert {"iss", "aud", "exp", "iat", "nbf", "jti", "scope", "client_id", "sub"} <= set(claims)
    assert claims["iss"] == "https://id.npdb.test" and claims["sub"] == claims["client_id"] == "portal"


def test_verifier_refuses_forgeries(tmp_path: Path) -> None:
    minter = TokenMinter(tmp_path)
    verifier = TokenVerifier(KeyStore(tmp_path))
    good = minter.mint("city-system", "citizen.read", audience="npdb")
    assert verifier.verify(good)["client_id"] == "city-system"
    forged = [
        minter.mint_with(claims=minter.claims("city-system", "citizen.read", "npdb"), algorithm="none"),
        minter.mint_with(claims=minter.claims("city-system", "citizen.read", "npdb"),
                         key=ec.generate_private_key(ec.SECP256R1())),
        minter.mint_with(claims=minter.claims("city-system", "citizen.read", "npdb"),
                         key="s" * 32, algorithm="HS256"),
        minter.mint("city-system", "citizen.read", audience="connection-api"),
        minter.mint("city-system", "citizen.read", audience="npdb", exp=int(time.time()) - 10),
        minter.mint("city-system", "citizen.read", audience="npdb", iss="https://evil.test"),
        minter.mint("city-system", "citizen.read", audience="npdb", jti=None),
    ]
    for token in forged:
        with pytest.raises(jwt.InvalidTokenError):
            verifier.verify(token)


def test_rotation_keeps_old_key_for_grace_period(tmp_path: Path) -> None:
    keys = KeyStore(tmp_path, grace_s=3600)
    minter = TokenMinter(tmp_path)
    old_token = minter.mint("city-system", "citizen.read", audience="npdb")
    old_kid = minter.kid
    new_kid = keys.rotate()
    assert keys.published_kids() == [new_kid, old_kid]
    assert TokenVerifier(keys).verify(old_token)  # still valid during the grace period
    minter.reload()
    assert jwt.get_unverified_header(minter.mint("x", "y"))["kid"] == new_kid
    expired_grace = KeyStore(tmp_path, grace_s=0)
    assert expired_grace.published_kids() == [new_kid]
    with pytest.raises(jwt.InvalidTokenError):
        TokenVerifier(expired_grace).verify(old_token)


def test_verified_token_cache_still_enforces_expiry(tmp_path: Path) -> None:
    minter = TokenMinter(tmp_path)
    verifier = TokenVerifier(KeyStore(tmp_path))
    token = minter.mint("city-system", "citizen.read", audience="npdb", lifetime_s=3)
    assert verifier.verify(token)["client_id"] == "city-system"
    assert verifier.verify(token)["client_id"] == "city-system"  # served from the cache
    time.sleep(3.2)  # exp is whole seconds: a 1 s lifetime could expire before the first verify
    with pytest.raises(jwt.InvalidTokenError):
        verifier.verify(token)
