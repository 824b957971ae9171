"""National token service keys: ES256 signing keys with rotation, JWKS, and in-process minting.

Keys live in ``<state_dir>/keys/`` (``keys.json`` names the current kid and retired kids with the
time they retired) so the server and the harness's ``TokenMinter`` sign with the same key.
A retired key stays in the JWKS for ``grace_s`` so tokens already issued keep verifying.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

ISSUER = "https://id.npdb.test"
NPDB_AUDIENCE = "npdb"
CONNECTION_AUDIENCE = "connection-api"
DEFAULT_GRACE_S = 3600


class KeyStore:
    """The token service's signing keys on disk."""

    def __init__(self, state_dir: Path, grace_s: int = DEFAULT_GRACE_S) -> None:
        self.dir = Path(state_dir) / "keys"
        self.index_path = self.dir / "keys.json"
        self.grace_s = grace_s
        self.dir.mkdir(parents=True, exist_ok=True)
        if not self.index_path.exists():
            self._write_index({"current": self._new_key(), "retired": []})

    def _new_key(self) -> str:
        kid = f"npdb-{int(time.time())}-{uuid.uuid4().hex[:8]}"
        key = ec.generate_private_key(ec.SECP256R1())
        path = self.dir / f"{kid}.pem"
        path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
        path.chmod(0o600)
        return kid

    def _write_index(self, index: dict[str, Any]) -> None:
        tmp = self.index_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(index))
        tmp.replace(self.index_path)  # atomic: a concurrent reader never sees half a file

    def index(self) -> dict[str, Any]:
        return json.loads(self.index_path.read_text())  # type: ignore[no-any-return]

    def current(self) -> tuple[str, ec.EllipticCurvePrivateKey]:
        kid = self.index()["current"]
        return kid, self.load(kid)

    def load(self, kid: str) -> ec.EllipticCurvePrivateKey:
        key = serialization.load_pem_private_key((self.dir / f"{kid}.pem").read_bytes(), None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return key

    def rotate(self) -> str:
        """New current key; the old one stays published for the grace period."""
        index = self.index()
        index["retired"].append({"kid": index["current"], "retired_at": time.time()})
        index["current"] = self._new_key()
        self._write_index(index)
        return str(index["current"])

    def published_kids(self) -> list[str]:
        index = self.index()
        now = time.time()
        kept = [r["kid"] for r in index["retired"] if now - r["retired_at"] < self.grace_s]
        return [index["current"], *kept]

    def jwks(self) -> dict[str, Any]:
        keys = []
        for kid in self.published_kids():
            jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self.load(kid).public_key()))
            keys.append({**jwk, "kid": kid, "use": "sig", "alg": "ES256"})
        return {"keys": keys}


class TokenMinter:
    """Mint national-token-service JWTs in process (valid or deliberately forged) for the harness."""

    def __init__(self, state_dir: Path, issuer: str = ISSUER) -> None:
        self.keys = KeyStore(state_dir)
        self.issuer = issuer
        self.reload()

    def reload(self) -> None:
        """Pick up the current key after a rotation done by the server."""
        self.kid, self.signing_key = self.keys.current()

    def claims(self, client_id: str, scopes: str | list[str] | tuple[str, ...],
               audience: str = CONNECTION_AUDIENCE, lifetime_s: int = 300) -> dict[str, Any]:
        now = int(time.time())
        scope = scopes if isinstance(scopes, str) else " ".join(scopes)
        return {"iss": self.issuer, "aud": audience, "sub": client_id, "client_id": client_id,
                "scope": scope, "iat": now, "nbf": now, "exp": now + lifetime_s,
                "jti": uuid.uuid4().hex}

    def mint(self, client_id: str, scopes: str | list[str] | tuple[str, ...],
             audience: str = CONNECTION_AUDIENCE, lifetime_s: int = 300,
             **claim_overrides: Any) -> str:
        """A correctly signed token; ``claim_overrides`` replace claims (None removes one)."""
        claims = self.claims(client_id, scopes, audience, lifetime_s)
        for name, value in claim_overrides.items():
            if value is None:
                claims.pop(name, None)
            else:
                claims[name] = value
        return jwt.encode(claims, self.signing_key, algorithm="ES256", headers={"kid": self.kid})

    def mint_with(self, *, header: dict[str, Any] | None = None, claims: dict[str, Any],
                  key: Any = None, algorithm: str | None = None) -> str:
        """Full control for forgeries: any header, claims, key and algorithm ('none' allowed)."""
        header = dict(header or {})
        alg = algorithm or header.pop("alg", None) or "ES256"
        if alg == "none":
            return _unsigned(header, claims)
        header.setdefault("kid", self.kid)
        return jwt.encode(claims, key if key is not None else self.signing_key,
                          algorithm=alg, headers=header)

    def public_jwks(self) -> dict[str, Any]:
        return self.keys.jwks()


def _unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    import base64

    def part(obj: dict[str, Any]) -> str:
        raw = json.dumps(obj, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return f"{part({**header, 'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


class TokenVerifier:
    """Verifies access tokens presented to the data API (aud ``npdb``), keys from the KeyStore."""

    def __init__(self, keys: KeyStore, issuer: str = ISSUER, audience: str = NPDB_AUDIENCE) -> None:
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self._public: dict[str, Any] = {}
        self._published_at = 0.0
        self._published: set[str] = set()
        # Verified-signature cache: ES256 verification costs more than the whole lookup, and a
        # client reuses one token for many calls. Time claims are re-checked on every use.
        self._verified: dict[str, dict[str, Any]] = {}

    def _refresh_published(self) -> None:
        # Re-read the published set at most once a second: rotation must take effect quickly.
        now = time.monotonic()
        if now - self._published_at > 1.0:
            self._published = set(self.keys.published_kids())
            self._published_at = now

    def _key_for(self, kid: str) -> Any:
        self._refresh_published()
        if kid not in self._published:
            return None
        if kid not in self._public:
            self._public[kid] = self.keys.load(kid).public_key()
        return self._public[kid]

    def verify(self, token: str) -> dict[str, Any]:
        """Claims of a valid token; raises ``jwt.InvalidTokenError`` with a reason otherwise."""
        if time.monotonic() - self._published_at > 1.0:  # the cheap test inline: every call
            self._refresh_published()
        cached = self._verified.get(token)
        if cached is not None:
            if cached["_kid"] in self._published and time.time() < cached["exp"]:
                return cached
            del self._verified[token]
        claims = self._verify_fully(token)
        if len(self._verified) > 10_000:
            self._verified.clear()
        self._verified[token] = {**claims, "_kid": jwt.get_unverified_header(token).get("kid")}
        return claims

    def _verify_fully(self, token: str) -> dict[str, Any]:
        header = jwt.get_unverified_header(token)
        if header.get("alg") != "ES256":
            raise jwt.InvalidAlgorithmError("only ES256 tokens are accepted")
        key = self._key_for(str(header.get("kid", "")))
        if key is None:
            raise jwt.InvalidSignatureError("unknown or retired key id")
        return jwt.decode(token, key, algorithms=["ES256"], audience=self.audience,
                          issuer=self.issuer,
                          options={"require": ["exp", "iat", "nbf", "iss", "aud", "jti"]})
