"""``POST /oauth2/token``: client-credentials grant, client auth by private_key_jwt or mTLS."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import jwt
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from popcert_npdb.state import MockState
from popcert_npdb.tokens import CONNECTION_AUDIENCE, NPDB_AUDIENCE

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
AUDIENCES = (NPDB_AUDIENCE, CONNECTION_AUDIENCE)


def oauth_error(status: int, code: str, description: str) -> JSONResponse:
    # RFC 6749 §5.2 shape, plus `message` so it also reads like every other NPDB error.
    return JSONResponse({"error": code, "error_description": description, "message": description,
                         "request_id": None}, status_code=status,
                        headers={"Cache-Control": "no-store"})


def peer_certificate(request: Request) -> x509.Certificate | None:
    chain = request.scope.get("extensions", {}).get("tls", {}).get("client_cert_chain") or []
    return x509.load_pem_x509_certificate(chain[0].encode()) if chain else None


def _assertion_client(state: MockState, request: Request, assertion: str) -> str:
    """Validate a private_key_jwt assertion; returns the client id or raises ValueError."""
    try:
        unverified = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.InvalidTokenError as exc:
        raise ValueError(f"client_assertion is not a JWT: {exc}") from exc
    client_id = str(unverified.get("iss", ""))
    client = state.clients.get(client_id)
    if client is None or "private_key_jwt" not in client.auth_methods:
        raise ValueError("unknown client or private_key_jwt not allowed for it")
    cert = x509.load_pem_x509_certificate(Path(client.cert_path).read_bytes())
    public_key = cert.public_key()
    if not isinstance(public_key, (rsa.RSAPublicKey, ec.EllipticCurvePublicKey)):
        # an unusable client key refuses the assertion like every other problem (the caller answers 401)
        raise ValueError("the client's certificate key is neither RSA nor EC")  # noqa: TRY004
    token_url = str(request.url.replace(query=""))
    audiences = [token_url, state.issuer, f"{state.issuer}/oauth2/token"]
    try:
        claims = jwt.decode(assertion, public_key, algorithms=["ES256", "RS256", "PS256"],
                            audience=audiences, options={"require": ["exp", "iss", "sub", "jti"]})
    except jwt.InvalidTokenError as exc:
        raise ValueError(f"client_assertion rejected: {exc}") from exc
    if claims["sub"] != client_id:
        raise ValueError("client_assertion iss and sub differ")
    now = time.time()
    for jti, exp in list(state.seen_assertion_jti.items()):
        if exp < now:
            del state.seen_assertion_jti[jti]
    if claims["jti"] in state.seen_assertion_jti:
        raise ValueError("client_assertion jti replayed")
    state.seen_assertion_jti[claims["jti"]] = float(claims["exp"])
    return client_id


async def token(request: Request) -> Response:
    state: MockState = request.app.state.mock
    # Parsed by hand: the form is small and urlencoded, and python-multipart is not a dependency.
    raw = await request.body()
    if len(raw) > 16 * 1024:
        return oauth_error(400, "invalid_request", "request body too large")
    # Blank values kept: an empty client_assertion_type or audience is a value the spec refuses.
    form = {k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace"),
                                         keep_blank_values=True).items()}
    audit: dict[str, Any] = request.scope.setdefault("popcert.audit", {})
    if form.get("grant_type") != "client_credentials":
        return oauth_error(400, "unsupported_grant_type", "only client_credentials is supported")
    assertion = form.get("client_assertion")
    assertion_type = form.get("client_assertion_type")
    # RFC 7521 §4.2: the two parameters come together, and the type is the one the spec lists,
    # whatever else authenticates the client (a client certificate does not excuse a bad type).
    if assertion_type is not None and assertion_type != ASSERTION_TYPE:
        return oauth_error(401, "invalid_client", f"client_assertion_type must be {ASSERTION_TYPE}")
    if assertion_type is not None and not assertion:
        return oauth_error(401, "invalid_client", "client_assertion_type without client_assertion")
    if assertion is not None:
        if assertion_type is None:
            return oauth_error(401, "invalid_client", f"client_assertion_type must be {ASSERTION_TYPE}")
        try:
            client_id = _assertion_client(state, request, str(assertion))
        except ValueError as exc:
            return oauth_error(401, "invalid_client", str(exc))
        method = "private_key_jwt"
    else:
        cert = peer_certificate(request)
        client_id = str(form.get("client_id", ""))
        client = state.clients.get(client_id)
        if cert is None:
            return oauth_error(401, "invalid_client",
                               "authenticate with private_key_jwt or a client certificate (mTLS)")
        cns = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
        if client is None or "mtls" not in client.auth_methods or cns != [client_id]:
            return oauth_error(401, "invalid_client", "client certificate does not match client_id")
        method = "mtls"
    audit.update(client_id=client_id, auth_method=method)
    client = state.clients.get(client_id)
    assert client is not None
    requested = str(form.get("scope") or " ".join(client.scopes)).split()
    if not set(requested) <= set(client.scopes):
        denied = sorted(set(requested) - set(client.scopes))
        return oauth_error(400, "invalid_scope", f"scope not allowed for {client_id}: {' '.join(denied)}")
    audience = str(form.get("audience", NPDB_AUDIENCE))
    if audience not in AUDIENCES:
        return oauth_error(400, "invalid_target", f"audience must be one of {', '.join(AUDIENCES)}")
    now = int(time.time())
    claims = {"iss": state.issuer, "aud": audience, "sub": client_id, "client_id": client_id,
              "scope": " ".join(requested), "iat": now, "nbf": now,
              "exp": now + state.token_lifetime_s, "jti": uuid.uuid4().hex, "auth_method": method}
    kid, key = state.keys.current()
    access_token = jwt.encode(claims, key, algorithm="ES256", headers={"kid": kid})
    return JSONResponse({"access_token": access_token, "token_type": "Bearer",
                         "expires_in": state.token_lifetime_s, "scope": claims["scope"]},
                        headers={"Cache-Control": "no-store"})
