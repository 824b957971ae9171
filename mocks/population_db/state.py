"""Everything one running mock holds, shared by the data app and the admin app."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.responses import JSONResponse

from popcert_npdb.audit import AuditLog
from popcert_npdb.clients import ClientRegistry
from popcert_npdb.faults import FaultTable
from popcert_npdb.notifications import Notifier
from popcert_npdb.pki import TestPKI
from popcert_npdb.population import Population
from popcert_npdb.runs import Leases, RunRegistry
from popcert_npdb.tokens import ISSUER, KeyStore, TokenVerifier

DEFAULT_RATE_LIMIT_PER_S = 20_000.0  # generous: load tests must not be throttled by default


@dataclass(slots=True)  # slots: take() runs on every data call
class TokenBucket:
    rate: float
    tokens: float
    updated: float = field(default_factory=time.monotonic)

    def take(self) -> float:
        """0 if allowed, else seconds until a token is available."""
        now = time.monotonic()
        self.tokens = min(self.rate, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


@dataclass
class MockState:
    state_dir: Path
    population: Population
    pki: TestPKI
    clients: ClientRegistry
    keys: KeyStore
    verifier: TokenVerifier
    audit: AuditLog
    faults: FaultTable
    notifier: Notifier
    mtls: str
    runs: RunRegistry
    leases: Leases = field(default_factory=Leases)
    issuer: str = ISSUER
    token_lifetime_s: int = 600
    default_rate_per_s: float = DEFAULT_RATE_LIMIT_PER_S
    rate_overrides: dict[str, float] = field(default_factory=dict)
    buckets: dict[str, TokenBucket] = field(default_factory=dict)
    seen_assertion_jti: dict[str, float] = field(default_factory=dict)
    _purposes: dict[str, frozenset[str]] = field(default_factory=dict)

    def client_purposes(self, client_id: str) -> frozenset[str]:
        cached = self._purposes.get(client_id)
        if cached is None:
            client = self.clients.get(client_id)
            cached = self._purposes[client_id] = frozenset(client.purposes if client else ())
        return cached

    def rate_limit_wait(self, client_id: str) -> float:
        bucket = self.buckets.get(client_id)
        if bucket is None:
            rate = self.rate_overrides.get(client_id, self.default_rate_per_s)
            bucket = self.buckets[client_id] = TokenBucket(rate, rate)
        return bucket.take()

    def set_rate_limit(self, per_s: float, client_id: str | None = None) -> None:
        if client_id is None:
            self.default_rate_per_s = per_s
            self.rate_overrides.clear()
        else:
            self.rate_overrides[client_id] = per_s
        self.buckets.clear()


def error(status: int, code: str, message: str, request_id: str | None = None,
          headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    """The one error shape of specs/npdb/v1: ``{error, message, request_id}``."""
    return JSONResponse({"error": code, "message": message, "request_id": request_id, **extra},
                        status_code=status, headers=headers)
