"""Forged bearer tokens for the auth suite: each one is an attack a token validator must refuse.

Built by hand (base64url + HMAC) where PyJWT refuses to help an attacker, e.g. HS256 with a
public-key PEM as the secret. Pure functions: no network, unit-tested in
tests/unit/test_auth_forge.py.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec


@dataclass(frozen=True)
class ForgedToken:
    """A token and what it is, in words, for the evidence title."""

    token: str
    description: str


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_segment(segment: str) -> dict[str, Any]:
    """A JWT header or claims segment as a dict ({} when it is not one: garbage is not an error)."""
    try:
        value = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, UnicodeDecodeError):
        return {}
    return value if isinstance(value, dict) else {}


def _segment(obj: dict[str, Any]) -> str:
    return b64url(json.dumps(obj, separators=(",", ":")).encode())


def unsigned(header: dict[str, Any], claims: dict[str, Any], alg: str = "none") -> str:
    """``alg: none`` (or a case variant): no signature at all (RFC 7519 §6 unsecured JWT)."""
    return f"{_segment({**header, 'alg': alg, 'typ': 'JWT'})}.{_segment(claims)}."


def stripped(token: str) -> str:
    """A genuine token with its signature segment removed: the signature check must not be skipped."""
    signing_input, _, _signature = token.rpartition(".")
    return signing_input + "."


def hs256(header: dict[str, Any], claims: dict[str, Any], secret: bytes) -> str:
    """HS256 with any bytes as the secret (PyJWT refuses PEM-looking secrets, an attacker does not)."""
    signing_input = f"{_segment({**header, 'alg': 'HS256', 'typ': 'JWT'})}.{_segment(claims)}"
    mac = hmac.new(secret, signing_input.encode("ascii"), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(mac)}"


def confusion_secrets(jwk: dict[str, Any]) -> list[tuple[str, bytes]]:
    """The encodings of the issuer's public key a naive server might use as an HMAC secret."""
    public_key = jwt.PyJWK(jwk).key
    pem = public_key.public_bytes(serialization.Encoding.PEM,
                                  serialization.PublicFormat.SubjectPublicKeyInfo)
    der = public_key.public_bytes(serialization.Encoding.DER,
                                  serialization.PublicFormat.SubjectPublicKeyInfo)
    variants = [("public key PEM", pem), ("public key PEM without trailing newline", pem.strip()),
                ("public key PEM with CRLF line ends", pem.replace(b"\n", b"\r\n")),
                ("public key DER", der),
                ("public JWK as JSON", json.dumps(jwk).encode()),
                ("public JWK as compact JSON", json.dumps(jwk, separators=(",", ":")).encode())]
    seen: set[bytes] = set()
    unique = []
    for name, secret in variants:
        if secret not in seen:
            seen.add(secret)
            unique.append((name, secret))
    return unique


def new_attacker_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def attacker_kid() -> str:
    return f"popcert-attacker-{uuid.uuid4().hex[:12]}"


def attacker_jwk(key: ec.EllipticCurvePrivateKey, kid: str) -> dict[str, Any]:
    """The public JWK of an attacker key, as an attacker JWKS would publish it."""
    jwk: dict[str, Any] = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    return {**jwk, "kid": kid, "use": "sig", "alg": "ES256"}


def es256(header: dict[str, Any], claims: dict[str, Any], key: ec.EllipticCurvePrivateKey) -> str:
    """A well-formed ES256 token signed by ``key`` (which the national token service never had)."""
    extra = {k: v for k, v in header.items() if k not in ("alg", "typ")}
    return jwt.encode(claims, key, algorithm="ES256", headers=extra)


def garbage_tokens() -> list[ForgedToken]:
    """Bearer values that are not JWTs at all: a validator answers 401, never 5xx."""
    return [
        ForgedToken("not-a-jwt", "a token that is not a JWT"),
        ForgedToken("a.b.c", "three segments that are not base64url JSON"),
        ForgedToken(f"{b64url(b'{not json')}.{b64url(b'[]')}.", "header segment that is not JSON"),
        ForgedToken(f"{_segment({'alg': 'ES256'})}.{b64url(b'not json')}.c2ln",
                    "claims segment that is not JSON"),
        ForgedToken("eyJ" + "A" * 6000, "a 6000-character token of one segment"),
        ForgedToken(".".join(["eyJhbGciOiJFUzI1NiJ9"] * 6), "a token of six segments"),
        ForgedToken("%00%ff\\x00'\"<>", "a token of control and quote characters"),
    ]


def now() -> int:
    return int(time.time())
