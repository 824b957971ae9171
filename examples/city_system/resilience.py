"""Retry policy (exponential backoff with full jitter, Retry-After honoured) and a circuit breaker.

Kept free of HTTP so the rules can be unit-tested with a fake clock.
"""

from __future__ import annotations

import enum
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 4
    base_delay_s: float = 0.2
    max_delay_s: float = 3.0
    # a Retry-After longer than this is not waited for inline: the dossier is postponed instead
    max_retry_after_s: float = 10.0

    def delay(self, attempt: int, retry_after_s: float | None = None,
              rng: Callable[[], float] = random.random) -> float:
        """Seconds to wait before retry number ``attempt`` (1 = first retry)."""
        if retry_after_s is not None:
            return min(retry_after_s, self.max_retry_after_s)
        ceiling = min(self.max_delay_s, self.base_delay_s * (2.0 ** (attempt - 1)))
        return ceiling * (0.5 + 0.5 * rng())  # jitter: spread retries of many dossiers apart


def parse_retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None  # HTTP-date form: treat as unknown, fall back to backoff
    return max(0.0, seconds)


class BreakerState(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass
class CircuitBreaker:
    """Opens after ``failure_threshold`` consecutive failures; lets one trial through after ``reset_s``."""

    failure_threshold: int = 5
    reset_s: float = 5.0
    clock: Callable[[], float] = time.monotonic
    state: BreakerState = BreakerState.CLOSED
    failures: int = 0
    opened_at: float = field(default=0.0)

    def allow(self) -> bool:
        if self.state is BreakerState.OPEN:
            if self.clock() - self.opened_at >= self.reset_s:
                self.state = BreakerState.HALF_OPEN
                return True
            return False
        return True

    def record_success(self) -> None:
        self.state = BreakerState.CLOSED
        self.failures = 0

    def record_failure(self) -> None:
        self.failures += 1
        if self.state is BreakerState.HALF_OPEN or self.failures >= self.failure_threshold:
            self.state = BreakerState.OPEN
            self.opened_at = self.clock()

    def retry_in(self) -> float:
        """Seconds until a trial call is allowed (0 when closed)."""
        if self.state is not BreakerState.OPEN:
            return 0.0
        return max(0.0, self.reset_s - (self.clock() - self.opened_at))
