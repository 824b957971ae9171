"""Capacity search: raise the offered rate in steps until a load threshold breaks.

Used by ``popcert load capacity``. Each step is one bounded locust run at a fixed offered rate;
a step *holds* when the SUT delivers ≥ ``hold_ratio`` of the offered rate with latency and
errors within the profile. The answer is the best rate delivered by a holding step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from harness.suites.base import RunContext
from harness.suites.load_stats import sustained_rate
from harness.suites.load_thresholds import LoadThresholds
from harness.suites.load_runner import LoadOutcome

# A user paced faster than this is mostly waiting on its own previous request.
MAX_USER_RPS = 2.0


@dataclass(frozen=True)
class CapacityStep:
    offered_rps: float
    users: int
    delivered_rps: float
    p95_ms: float
    p99_ms: float
    error_rate: float
    holds: bool
    broke: tuple[str, ...]  # which thresholds this step broke
    error: str | None = None

    def to_json(self) -> dict[str, object]:
        return {"offered_rps": round(self.offered_rps, 1), "users": self.users,
                "delivered_rps": round(self.delivered_rps, 1), "p95_ms": self.p95_ms,
                "p99_ms": self.p99_ms, "error_rate": round(self.error_rate, 4),
                "holds": self.holds, "broke": list(self.broke), "error": self.error}


@dataclass(frozen=True)
class CapacityResult:
    sustainable_rps: float  # 0.0 when even the first step broke
    steps: tuple[CapacityStep, ...] = field(default_factory=tuple)

    @property
    def limited_by(self) -> tuple[str, ...]:
        """What broke at the first failing step (empty when the search hit ``max_rps``)."""
        failing = [s for s in self.steps if not s.holds]
        return failing[0].broke if failing else ()


def judge_step(outcome: LoadOutcome, offered_rps: float, limits: LoadThresholds,
               hold_ratio: float = 0.9) -> CapacityStep:
    """Did this step hold? Pure, so it is tested from fixture CSVs."""
    stats = outcome.stats
    if stats is None or stats.aggregated.requests == 0:
        return CapacityStep(offered_rps, outcome.job.users, 0.0, 0.0, 0.0, 0.0, False,
                            ("no-statistics",), outcome.error or "locust sent no request")
    delivered = sustained_rate(stats.history, outcome.job.users).rps
    aggregated = stats.aggregated
    broke = tuple(name for name, bad in (
        ("throughput", delivered < hold_ratio * offered_rps),
        ("p95", aggregated.p95_ms > limits.p95_ms),
        ("p99", aggregated.p99_ms > limits.p99_ms),
        ("error-rate", aggregated.error_rate > limits.max_error_rate)) if bad)
    return CapacityStep(offered_rps, outcome.job.users, delivered, aggregated.p95_ms,
                        aggregated.p99_ms, aggregated.error_rate, not broke, broke)


def step_users(offered_rps: float, min_users: int) -> int:
    return max(min_users, math.ceil(offered_rps / MAX_USER_RPS))


def capacity_search(run: RunContext, limits: LoadThresholds, out_dir: Path, *,
                    start_rps: float = 10.0, factor: float = 1.5, max_rps: float = 2000.0,
                    step_duration_s: float = 10.0, max_steps: int = 10,
                    workers: int = 0) -> CapacityResult:
    """Ramp the offered rate geometrically from ``start_rps`` until a step breaks a threshold.

    Bounded: at most ``max_steps`` runs of ``step_duration_s`` each, every one scope-checked and
    request-bounded by ``limits.max_requests``.
    """
    from harness.suites.load import run_load  # the suite module registers checks; import late

    steps: list[CapacityStep] = []
    offered = start_rps
    best = 0.0
    for index in range(max_steps):
        if offered > max_rps:
            break
        users = step_users(offered, min(limits.users, 10))
        outcome = run_load(run, limits, out_dir=out_dir / f"step-{index + 1}", workers=workers,
                           users=users, user_rps=offered / users, duration_s=step_duration_s)
        step = judge_step(outcome, offered, limits)
        steps.append(step)
        if not step.holds:
            break
        best = max(best, step.delivered_rps)
        offered *= factor
    return CapacityResult(round(best, 1), tuple(steps))
