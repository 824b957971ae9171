"""The city system as an NPDB client: its own token, purpose codes, minimal fields, resilient calls.

Token: client credentials with private_key_jwt (and the client certificate when present), cached until
shortly before expiry. Calls: X-Purpose-Code + X-Request-Id on every data call; timeouts; retries with
backoff + jitter on 5xx/429/timeouts/resets/malformed bodies (Retry-After honoured); a circuit breaker.
"""

from __future__ import annotations

import asyncio
import functools
import json
import ssl
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from popcert_city.defects import active
from popcert_city.resilience import CircuitBreaker, RetryPolicy, parse_retry_after

NPDB_SCOPES = "citizen.read identity.verify household.read residence.read notification.subscribe"
TOKEN_REFRESH_MARGIN_S = 30  # renew before expiry so a call never carries a token about to expire
RETRYABLE_STATUS = {429, 500, 502, 503, 504}
# The NPDB wants a purpose on every call, subscriptions included; change notifications serve the
# civil-status procedures, death registration being the one that most needs them.
SUBSCRIPTION_PURPOSE = "1.000656"


class NpdbUnavailable(Exception):
    """The NPDB could not answer now (retries exhausted or circuit open): try the dossier later."""

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class NpdbRejected(Exception):
    """The NPDB refused the call (4xx other than 404/429): a problem on our side, not transient."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"NPDB refused the call: {status}")
        self.status = status
        self.body = body


class _Malformed(Exception):
    pass


@dataclass(frozen=True)
class ClientCredentials:
    client_id: str
    key_path: Path
    cert_path: Path | None = None


class NpdbClient:
    def __init__(self, *, data_url: str, token_url: str, credentials: ClientCredentials,
                 ca_path: Path | None, timeout_s: float = 5.0, policy: RetryPolicy | None = None,
                 breaker: CircuitBreaker | None = None, npdb_audience: str = "npdb",
                 transport: httpx.AsyncBaseTransport | None = None,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 clock: Callable[[], float] = time.time) -> None:
        self.data_url = data_url.rstrip("/")
        self.token_url = token_url
        self.credentials = credentials
        self.npdb_audience = npdb_audience
        max_attempts = 1 if active("npdb.no_retry") else (policy or RetryPolicy()).max_attempts
        base = policy or RetryPolicy()
        self.policy = RetryPolicy(max_attempts, base.base_delay_s, base.max_delay_s, base.max_retry_after_s)
        self.breaker = breaker or CircuitBreaker()
        self._sleep = sleep
        self._clock = clock
        self._token: str | None = None
        self._token_expires = 0.0
        self._token_lock = asyncio.Lock()
        timeout = httpx.Timeout(timeout_s, connect=min(timeout_s, 3.0))
        if transport is not None:
            self._http = httpx.AsyncClient(transport=transport, timeout=timeout)
        else:
            self._http = httpx.AsyncClient(verify=tls_client_context(ca_path, credentials), timeout=timeout)

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- token -----------------------------------------------------------------------------------
    def _client_assertion(self) -> str:
        key = load_pem_private_key(self.credentials.key_path.read_bytes(), password=None)
        now = int(self._clock())
        claims = {"iss": self.credentials.client_id, "sub": self.credentials.client_id,
                  "aud": self.token_url, "iat": now, "exp": now + 60, "jti": str(uuid.uuid4())}
        return jwt.encode(claims, key, algorithm="ES256")  # type: ignore[arg-type]

    async def token(self) -> str:
        async with self._token_lock:  # one token request even when many dossiers start at once
            if self._token and self._clock() < self._token_expires - TOKEN_REFRESH_MARGIN_S:
                return self._token
            form = {"grant_type": "client_credentials", "scope": NPDB_SCOPES,
                    "audience": self.npdb_audience, "client_id": self.credentials.client_id,
                    "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    "client_assertion": self._client_assertion()}
            response = await self._with_retries(lambda: self._http.post(self.token_url, data=form))
            body = _json(response)
            self._token = str(body["access_token"])
            self._token_expires = self._clock() + float(body.get("expires_in", 300))
            return self._token

    # -- data calls ------------------------------------------------------------------------------
    async def verify_identity(self, purpose: str, person: dict[str, Any]) -> dict[str, Any]:
        body = {k: person[k] for k in ("personal_id", "full_name", "date_of_birth")}
        response = await self._data_call("POST", "/identity/verify", purpose, json_body=body)
        return _json(response) if response.status_code == 200 else {"match": False, "mismatched_fields": []}

    async def citizen(self, purpose: str, personal_id: str, fields: tuple[str, ...]) -> dict[str, Any] | None:
        params = {"fields": ",".join(fields)} if fields else None
        response = await self._data_call("GET", f"/citizens/{personal_id}", purpose, params=params)
        return _json(response) if response.status_code == 200 else None

    async def residence(self, purpose: str, personal_id: str) -> dict[str, Any] | None:
        response = await self._data_call("GET", f"/citizens/{personal_id}/residence", purpose)
        return _json(response) if response.status_code == 200 else None

    async def household(self, purpose: str, household_id: str) -> dict[str, Any] | None:
        response = await self._data_call("GET", f"/households/{household_id}", purpose)
        return _json(response) if response.status_code == 200 else None

    async def subscribe(self, callback_url: str, events: list[str]) -> dict[str, Any]:
        response = await self._data_call("POST", "/subscriptions", SUBSCRIPTION_PURPOSE,
                                         json_body={"callback_url": callback_url, "events": events},
                                         dossier_call=False)
        answer = _json(response)
        if not isinstance(answer, dict):
            raise _Malformed()
        return answer

    async def _data_call(self, method: str, path: str, purpose: str | None, *,
                         json_body: Any = None, params: dict[str, str] | None = None,
                         dossier_call: bool = True) -> httpx.Response:
        request_id = str(uuid.uuid4())  # one id for the logical call, kept across retries
        refreshed = False
        while True:
            token = await self.token()
            headers = {"Authorization": f"Bearer {token}"}
            if not (dossier_call and active("npdb.missing_request_id")):
                headers["X-Request-Id"] = request_id
            if purpose and not (dossier_call and active("npdb.missing_purpose_code")):
                headers["X-Purpose-Code"] = purpose

            send = functools.partial(self._http.request, method, self.data_url + path, headers=headers,
                                     json=json_body, params=params)
            response = await self._with_retries(send, accept={404})
            if response.status_code == 401 and not refreshed:
                self._token = None  # revoked or rotated key: get a new token once
                refreshed = True
                continue
            return response

    async def _with_retries(self, send: Callable[[], Awaitable[httpx.Response]],
                            accept: frozenset[int] | set[int] = frozenset()) -> httpx.Response:
        """Send with retries; returns a 2xx (or an accepted status) response, raises otherwise."""
        last_error = "no attempt made"
        retry_after: float | None = None
        for attempt in range(1, self.policy.max_attempts + 1):
            if not self.breaker.allow():
                raise NpdbUnavailable("circuit open", self.breaker.retry_in())
            retry_after = None
            try:
                response = await send()
                if response.status_code in RETRYABLE_STATUS:
                    last_error = f"HTTP {response.status_code}"
                    retry_after = parse_retry_after(response.headers.get("Retry-After"))
                    if response.status_code == 429 and active("npdb.ignores_retry_after"):
                        retry_after = 0.0
                elif response.is_success:
                    _json(response)  # a truncated or garbled body counts as a failed attempt
                    self.breaker.record_success()
                    return response
                elif response.status_code in accept or response.status_code == 401:
                    self.breaker.record_success()
                    return response
                else:
                    self.breaker.record_success()  # the NPDB is up; it refused us
                    raise NpdbRejected(response.status_code, response.text[:500])
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                last_error = type(exc).__name__
            except _Malformed:
                last_error = "malformed body"
            self.breaker.record_failure()
            if attempt < self.policy.max_attempts:
                if retry_after is not None and retry_after > self.policy.max_retry_after_s:
                    break  # the NPDB asks for a long pause: postpone the dossier, do not hold it
                await self._sleep(self.policy.delay(attempt, retry_after))
        raise NpdbUnavailable(f"NPDB unavailable: {last_error}", retry_after)


def tls_client_context(ca_path: Path | None, credentials: ClientCredentials) -> ssl.SSLContext:
    """Trust the national CA; present the client certificate when there is one (mTLS to the NPDB)."""
    context = ssl.create_default_context(cafile=str(ca_path) if ca_path else None)
    if credentials.cert_path and credentials.cert_path.exists():
        context.load_cert_chain(str(credentials.cert_path), str(credentials.key_path))
    return context


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError) as exc:
        raise _Malformed() from exc
