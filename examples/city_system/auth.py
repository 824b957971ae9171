"""Caller authentication: bearer JWTs from the national token service, checked against its JWKS.

Pinned to ES256; iss, aud, exp and nbf are checked here by hand (not by PyJWT options) so that each
``auth.*`` defect switch turns off exactly one rule. Scopes are checked per operation by ``require_scope``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import jwt
from cryptography.hazmat.primitives import serialization

from popcert_city.defects import active

PINNED_ALG = "ES256"
CLOCK_SKEW_S = 30  # tolerated clock difference for exp/nbf
JWKS_REFRESH_MIN_S = 10.0  # an unknown kid triggers at most one JWKS refetch per this interval
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}

JwksFetcher = Callable[[str], Awaitable[dict[str, Any]]]


class AuthError(Exception):
    """A refused caller: 401 (who are you) or 403 (not allowed)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Caller:
    client_id: str
    scopes: frozenset[str]
    claims: dict[str, Any] = field(default_factory=dict, compare=False)


ANONYMOUS = Caller("anonymous", frozenset({"dossier.submit", "dossier.read"}))


def require_scope(caller: Caller, scope: str) -> None:
    if active("auth.scope_not_enforced"):
        return
    if scope not in caller.scopes:
        raise AuthError(403, f"scope {scope} required")


def _b64url_decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _unverified_claims(token: str) -> dict[str, Any]:
    try:
        claims = json.loads(_b64url_decode(token.split(".")[1]))
    except (IndexError, ValueError) as exc:
        raise AuthError(401, "invalid token") from exc
    if not isinstance(claims, dict):
        raise AuthError(401, "invalid token")
    return claims


def public_key_pem(jwk: dict[str, Any]) -> bytes:
    """The PEM (SubjectPublicKeyInfo) of a JWK: what a key-confusion attacker uses as HMAC secret."""
    key = jwt.PyJWK(jwk).key  # PyJWT types the key as Any; a public JWK gives a public key object
    pem: bytes = key.public_bytes(serialization.Encoding.PEM,
                                  serialization.PublicFormat.SubjectPublicKeyInfo)
    return pem


class TokenValidator:
    """Validates access tokens for the connection API."""

    def __init__(self, *, issuer: str, audience: str, jwks_url: str, fetch_jwks: JwksFetcher,
                 clock: Callable[[], float] = time.time) -> None:
        self.issuer = issuer
        self.audience = audience
        self.jwks_url = jwks_url
        self._fetch = fetch_jwks
        self._clock = clock
        self._keys: dict[str, dict[str, Any]] = {}
        self._fetched_at: float | None = None

    async def _jwks(self, force: bool = False) -> dict[str, dict[str, Any]]:
        now = time.monotonic()
        stale = self._fetched_at is None or (force and now - self._fetched_at > JWKS_REFRESH_MIN_S)
        if stale:
            try:
                document = await self._fetch(self.jwks_url)
            except Exception as exc:  # the token service being down must not turn into a 500
                if self._fetched_at is None:
                    raise AuthError(401, "cannot verify token now") from exc
                return self._keys
            self._keys = {k.get("kid", ""): k for k in document.get("keys", []) if isinstance(k, dict)}
            self._fetched_at = now
        return self._keys

    async def authenticate(self, authorization: str | None) -> Caller:
        if not authorization:
            if active("auth.no_token_accepted"):
                return ANONYMOUS
            raise AuthError(401, "bearer token required")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthError(401, "bearer token required")
        claims = await self._verified_claims(token.strip())
        self._check_claims(claims)
        client_id = claims.get("client_id") or claims.get("sub")
        if not isinstance(client_id, str) or not client_id:
            raise AuthError(401, "token has no client_id")
        scope = claims.get("scope", "")
        scopes = frozenset(scope.split()) if isinstance(scope, str) else frozenset()
        return Caller(client_id, scopes, claims)

    async def _verified_claims(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.DecodeError as exc:
            if active("auth.malformed_token_500"):
                raise RuntimeError(f"cannot parse token {token!r}") from exc
            raise AuthError(401, "invalid token") from exc
        alg = str(header.get("alg", ""))
        kid = header.get("kid")
        signature = token.rsplit(".", 1)[-1]

        if alg.lower() == "none" and active("auth.alg_none_accepted"):
            return _unverified_claims(token)
        if alg == PINNED_ALG and signature == "" and active("auth.stripped_signature_accepted"):
            return _unverified_claims(token)
        if alg == "HS256" and active("auth.hs256_key_confusion"):
            return await self._hs256_with_public_key(token, kid)
        jku = header.get("jku")
        if isinstance(jku, str) and active("auth.jku_followed") and _is_loopback(jku):
            return await self._verify_with_jwks(token, await self._fetch(jku), kid)

        # the national token service never sends jku/x5u: a token naming its own key source is forged
        if alg != PINNED_ALG or "jku" in header or "x5u" in header:
            raise AuthError(401, "invalid token")
        keys = await self._jwks()
        if not isinstance(kid, str) or kid not in keys:
            keys = await self._jwks(force=True)
        if not isinstance(kid, str) or kid not in keys:
            if active("auth.unknown_key_accepted"):
                return _unverified_claims(token)
            raise AuthError(401, "invalid token")
        return _decode(token, keys[kid])

    async def _hs256_with_public_key(self, token: str, kid: Any) -> dict[str, Any]:
        keys = await self._jwks()
        candidates = [keys[kid]] if isinstance(kid, str) and kid in keys else list(keys.values())
        signing_input, _, signature = token.rpartition(".")
        try:
            given = _b64url_decode(signature)
        except ValueError as exc:
            raise AuthError(401, "invalid token") from exc
        for jwk in candidates:
            pem = public_key_pem(jwk)
            for secret in (pem, pem.strip()):
                expected = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
                if hmac.compare_digest(expected, given):
                    return _unverified_claims(token)
        raise AuthError(401, "invalid token")

    async def _verify_with_jwks(self, token: str, document: dict[str, Any], kid: Any) -> dict[str, Any]:
        keys = [k for k in document.get("keys", []) if isinstance(k, dict)]
        chosen = [k for k in keys if k.get("kid") == kid] or keys
        if not chosen:
            raise AuthError(401, "invalid token")
        return _decode(token, chosen[0])

    def _check_claims(self, claims: dict[str, Any]) -> None:
        now = self._clock()
        exp = claims.get("exp")
        if not active("auth.exp_not_checked") and (
                not isinstance(exp, (int, float)) or now > exp + CLOCK_SKEW_S):
            raise AuthError(401, "token expired")
        nbf = claims.get("nbf")
        if not active("auth.nbf_not_checked") and nbf is not None and (
                not isinstance(nbf, (int, float)) or now < nbf - CLOCK_SKEW_S):
            raise AuthError(401, "token not yet valid")
        if not active("auth.iss_not_checked") and claims.get("iss") != self.issuer:
            raise AuthError(401, "token from an unknown issuer")
        if not active("auth.aud_not_checked"):
            aud = claims.get("aud")
            audiences = aud if isinstance(aud, list) else [aud]
            if self.audience not in audiences:
                raise AuthError(401, "token not meant for this API")


def _decode(token: str, jwk: dict[str, Any]) -> dict[str, Any]:
    """Verify the signature only (ES256 pinned); claims are checked by ``_check_claims``."""
    try:
        key = jwt.PyJWK(jwk, algorithm=PINNED_ALG)
        return jwt.decode(token, key, algorithms=[PINNED_ALG], options={
            "verify_signature": True, "verify_exp": False, "verify_nbf": False, "verify_iat": False,
            "verify_aud": False, "verify_iss": False, "verify_sub": False, "verify_jti": False})
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise AuthError(401, "invalid token") from exc


def _is_loopback(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in {"http", "https"} and (parts.hostname or "") in LOOPBACK_HOSTS
