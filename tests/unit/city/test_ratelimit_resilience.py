"""Token bucket, backoff policy and circuit breaker with a fake clock."""

from __future__ import annotations

from popcert_city.ratelimit import RateLimiter
from popcert_city.resilience import BreakerState, CircuitBreaker, RetryPolicy, parse_retry_after


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_bucket_allows_burst_then_429_with_retry_after_and_refills() -> None:
    clock = Clock()
    limiter = RateLimiter(rate_per_s=2, burst=3, clock=clock)
    assert [limiter.take("portal") for _ in range(3)] == [None, None, None]
    assert limiter.take("portal") == 1
    assert limiter.take("portal-b") is None  # per client
    clock.now += 0.5
    assert limiter.take("portal") is None


def test_backoff_grows_with_jitter_and_is_capped() -> None:
    policy = RetryPolicy(base_delay_s=0.2, max_delay_s=1.0)
    assert policy.delay(1, rng=lambda: 1.0) == 0.2
    assert policy.delay(2, rng=lambda: 1.0) == 0.4
    assert policy.delay(2, rng=lambda: 0.0) == 0.2  # jitter halves at most
    assert policy.delay(10, rng=lambda: 1.0) == 1.0


def test_retry_after_wins_over_backoff_but_is_capped() -> None:
    policy = RetryPolicy(max_retry_after_s=10)
    assert policy.delay(1, retry_after_s=3) == 3
    assert policy.delay(1, retry_after_s=60) == 10
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") is None


def test_breaker_opens_after_threshold_then_half_opens() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=3, reset_s=5, clock=clock)
    for _ in range(3):
        assert breaker.allow()
        breaker.record_failure()
    assert breaker.state is BreakerState.OPEN and not breaker.allow()
    assert breaker.retry_in() == 5
    clock.now += 5
    assert breaker.allow() and breaker.state is BreakerState.HALF_OPEN
    breaker.record_failure()  # the trial failed: open again
    assert not breaker.allow()
    clock.now += 5
    assert breaker.allow()
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED
