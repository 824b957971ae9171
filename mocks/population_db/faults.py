"""Run-time fault injection per endpoint: latency, error status, timeout, reset, malformed, 429.

A rule matches an endpoint template (``/npdb/v1/citizens/{personal_id}``), an exact path, or ``*``;
it fires with ``probability`` and at most ``count`` times (None = unlimited).
"""

from __future__ import annotations

import itertools
import random
import re
import threading
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, Field

FaultKind = Literal["latency", "status", "timeout", "reset", "malformed", "rate_limit"]
MAX_HOLD_MS = 60_000  # a "timeout" fault never holds a request longer than this


class FaultSpec(BaseModel):
    """What ``POST /admin/faults`` accepts."""

    endpoint: str = "*"
    kind: FaultKind
    probability: float = Field(1.0, ge=0.0, le=1.0)
    count: int | None = Field(None, ge=1)
    latency_ms: int = Field(0, ge=0, le=MAX_HOLD_MS)
    status: int = Field(503, ge=400, le=599)
    retry_after_s: int = Field(1, ge=0, le=3600)


@dataclass
class FaultRule:
    id: int
    spec: FaultSpec
    pattern: re.Pattern[str]
    fired: int = 0
    remaining: int | None = field(default=None)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, **self.spec.model_dump(), "fired": self.fired,
                "remaining": self.remaining}


def _pattern(endpoint: str) -> re.Pattern[str]:
    if endpoint == "*":
        return re.compile(r".*")
    escaped = re.escape(endpoint)
    return re.compile("^" + re.sub(r"\\\{[^}]*\\\}", "[^/]+", escaped) + "$")


class FaultTable:
    """Active fault rules; thread-safe because the admin app may run in another thread."""

    def __init__(self, rng_seed: int = 0) -> None:
        self._rules: list[FaultRule] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._rng = random.Random(rng_seed)

    def add(self, spec: FaultSpec) -> FaultRule:
        with self._lock:
            rule = FaultRule(next(self._ids), spec, _pattern(spec.endpoint), remaining=spec.count)
            self._rules.append(rule)
            return rule

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def rules(self) -> list[dict[str, Any]]:
        with self._lock:
            return [r.to_json() for r in self._rules]

    def pick(self, path: str) -> FaultSpec | None:
        """The first rule that matches and fires for this request, consuming one of its count."""
        if not self._rules:  # fast path: no lock, no regex when nothing is injected
            return None
        with self._lock:
            for rule in self._rules:
                if rule.remaining == 0 or not rule.pattern.match(path):
                    continue
                if rule.spec.probability < 1.0 and self._rng.random() >= rule.spec.probability:
                    continue
                rule.fired += 1
                if rule.remaining is not None:
                    rule.remaining -= 1
                return rule.spec
        return None

