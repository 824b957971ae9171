"""Capacity search: raise the offered rate until a load threshold breaks, then bisect.

Used by ``popcert load capacity``. Each step is one bounded locust run at a fixed offered rate
(open model); a step *holds* when the SUT completes ≥ 97% of the requests that came due, with
latency (from intended send times) and errors within the profile. After the first break the
search bisects between the last holding and the first breaking rate until they are within 3%;
the answer is the rate delivered at the highest holding step, with the bracket as confidence.
After a breaking step the search pauses one step duration (at most 10 s) so the SUT can work off
the queue that step left, which would otherwise count against the next one.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

from harness.run_context import RunContext
from harness.suites.load.context import run_load
from harness.suites.load.runner import LoadOutcome
from harness.suites.load.thresholds import LoadThresholds

# Each user runs an open-model timetable with up to 16 requests in flight; past this rate per user
# a step would need more connections than a portal worker holds.
MAX_USER_RPS = 10.0
# A step holds while the SUT completes this share of the requests its timetable made due.
HOLD_RATIO = 0.97
# Bisection stops when the first failing rate is within this factor of the last holding one.
RESOLUTION = 1.03
COOLDOWN_MAX_S = 10.0


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
    delivered_ratio: float = 0.0  # completed / due on the timetable

    def to_json(self) -> dict[str, object]:
        return {"offered_rps": round(self.offered_rps, 1), "users": self.users,
                "delivered_rps": round(self.delivered_rps, 1),
                "delivered_ratio": round(self.delivered_ratio, 4), "p95_ms": self.p95_ms,
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

    @property
    def bracket(self) -> tuple[float, float | None]:
        """(highest holding offered rate, lowest breaking offered rate above it)."""
        holding = [s.offered_rps for s in self.steps if s.holds]
        best = max(holding, default=0.0)
        above = [s.offered_rps for s in self.steps if not s.holds and s.offered_rps > best]
        return best, (min(above) if above else None)

    @property
    def confidence(self) -> str:
        """How sure the figure is: the interval the bisection left, as a ± share."""
        low, high = self.bracket
        if high is None:
            return "no step broke: the capacity is at least this (raise --max-rps)"
        if low == 0.0:
            return f"even the first step ({high:g} req/s offered) broke"
        centre = (self.sustainable_rps + high) / 2
        half = (high - min(self.sustainable_rps, low)) / 2
        return (f"±{half / centre:.1%}: holds at {low:.1f} req/s offered "
                f"({self.sustainable_rps:.1f} delivered), breaks at {high:.1f}")


def judge_step(outcome: LoadOutcome, offered_rps: float, limits: LoadThresholds,
               hold_ratio: float = HOLD_RATIO) -> CapacityStep:
    """Did this step hold? Pure, so it is tested from fixture files.

    Throughput is judged on the timetable: of the requests that came due, how many completed
    successfully. An open-model driver keeps offering the rate, so a SUT that cannot keep up
    builds a queue and completes only its capacity: ``ok / due`` falls to ``capacity / offered``.
    Latency is judged from intended send times.
    """
    stats, latency = outcome.stats, outcome.latency
    if stats is None or stats.aggregated.requests == 0 or latency is None or not latency.due:
        return CapacityStep(offered_rps, outcome.job.users, 0.0, 0.0, 0.0, 0.0, False,
                            ("no-statistics",), outcome.error or "locust sent no request")
    ratio = latency.delivered_ratio
    aggregated = latency.aggregated
    error_rate = latency.failed / max(1, latency.ok + latency.failed)
    broke = tuple(name for name, bad in (
        ("throughput", ratio < hold_ratio),
        ("p95", aggregated.p95_ms > limits.p95_ms),
        ("p99", aggregated.p99_ms > limits.p99_ms),
        ("error-rate", error_rate > limits.max_error_rate)) if bad)
    return CapacityStep(offered_rps, outcome.job.users, offered_rps * min(1.0, ratio),
                        aggregated.p95_ms, aggregated.p99_ms, error_rate, not broke, broke,
                        delivered_ratio=ratio)


def step_users(offered_rps: float, min_users: int) -> int:
    return max(min_users, math.ceil(offered_rps / MAX_USER_RPS))


def next_rate(steps: list[CapacityStep], factor: float,
              resolution: float = RESOLUTION) -> float | None:
    """Geometric until the first break, then bisection between the last hold and first break;
    None when the bracket is narrower than ``resolution``."""
    holding = [s.offered_rps for s in steps if s.holds]
    low = max(holding, default=0.0)
    breaking = [s.offered_rps for s in steps if not s.holds and s.offered_rps > low]
    if not breaking:
        return steps[-1].offered_rps * factor
    high = min(breaking)
    if low == 0.0:  # nothing held yet: step down until something does
        lower = high / factor
        return lower if lower >= 1.0 else None
    if high / low <= resolution:
        return None
    return (low + high) / 2


def capacity_search(run: RunContext, limits: LoadThresholds, out_dir: Path, *,
                    start_rps: float = 10.0, factor: float = 1.5, max_rps: float = 2000.0,
                    step_duration_s: float = 10.0, max_steps: int = 14,
                    workers: int = 0, resolution: float = RESOLUTION) -> CapacityResult:
    """Ramp the offered rate geometrically from ``start_rps`` until a step breaks a threshold,
    then bisect between the last holding and the first breaking rate.

    Bounded: at most ``max_steps`` runs of ``step_duration_s`` each, every one scope-checked and
    request-bounded by ``limits.max_requests``.
    """
    steps: list[CapacityStep] = []
    offered: float | None = start_rps
    for index in range(max_steps):
        if offered is None or offered > max_rps:
            break
        users = step_users(offered, min(limits.users, 10))
        outcome = run_load(run, limits, out_dir=out_dir / f"step-{index + 1}", workers=workers,
                           users=users, user_rps=offered / users, duration_s=step_duration_s,
                           spawn_rate=users)
        steps.append(judge_step(outcome, offered, limits))
        offered = next_rate(steps, factor, resolution)
        if not steps[-1].holds and offered is not None:
            # An overloaded SUT is still working off the queue the step left behind.
            time.sleep(min(step_duration_s, COOLDOWN_MAX_S))
    best = max((s for s in steps if s.holds), key=lambda s: s.offered_rps, default=None)
    return CapacityResult(round(best.delivered_rps, 1) if best else 0.0, tuple(steps))
