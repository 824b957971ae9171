"""Run-time fault injection per endpoint: latency, error status, timeout, reset, malformed, 429.

A rule matches an endpoint template (``/npdb/v1/citizens/{personal_id}``), an exact path, or ``*``;
it fires with ``probability`` and at most ``count`` times (None = unlimited). A rule injected by a
run (``run_id``) fires only on calls about that run's people, narrowed to ``personal_ids`` if given:
a fault one run injects never hits another run's calls.
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
    personal_ids: list[str] | None = Field(None, max_length=1000)


@dataclass
class FaultRule:
    id: int
    spec: FaultSpec
    pattern: re.Pattern[str]
    fired: int = 0
    remaining: int | None = field(default=None)
    run_id: str | None = None

    @property
    def scoped(self) -> bool:
        return self.run_id is not None or self.spec.personal_ids is not None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, **self.spec.model_dump(), "fired": self.fired,
                "remaining": self.remaining, "run_id": self.run_id}


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

    def add(self, spec: FaultSpec, run_id: str | None = None) -> FaultRule:
        with self._lock:
            rule = FaultRule(next(self._ids), spec, _pattern(spec.endpoint), remaining=spec.count,
                             run_id=run_id)
            self._rules.append(rule)
            return rule

    def clear(self, run_id: str | None = None) -> None:
        """Every rule, or only the rules ``run_id`` injected."""
        with self._lock:
            self._rules = [] if run_id is None else [r for r in self._rules if r.run_id != run_id]

    def rules(self, run_id: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [r.to_json() for r in self._rules if run_id is None or r.run_id == run_id]

    def needs_people(self, path: str) -> bool:
        """Whether a run-scoped rule could fire here: then the caller finds the call's people."""
        rules = self._rules
        return bool(rules) and any(r.scoped and r.pattern.match(path) for r in rules)

    def pick(self, path: str, people: tuple[str, ...] = (),
             run_of_person: Any = None) -> FaultSpec | None:
        """The first rule that matches and fires for this request, consuming one of its count.

        ``people`` are the personal ids the call is about; ``run_of_person(pid)`` names the run
        holding a person (a scoped rule fires only on its own run's people)."""
        if not self._rules:  # fast path: no lock, no regex when nothing is injected
            return None
        with self._lock:
            for rule in self._rules:
                if rule.remaining == 0 or not rule.pattern.match(path):
                    continue
                if rule.scoped and not _concerns(rule, people, run_of_person):
                    continue
                if rule.spec.probability < 1.0 and self._rng.random() >= rule.spec.probability:
                    continue
                rule.fired += 1
                if rule.remaining is not None:
                    rule.remaining -= 1
                return rule.spec
        return None



def _concerns(rule: FaultRule, people: tuple[str, ...], run_of_person: Any) -> bool:
    """A scoped rule's people: its run's (if any), narrowed to its personal_ids (if any)."""
    wanted = set(rule.spec.personal_ids) if rule.spec.personal_ids is not None else None
    for pid in people:
        if wanted is not None and pid not in wanted:
            continue
        if rule.run_id is None or (run_of_person is not None and run_of_person(pid) == rule.run_id):
            return True
    return False
