"""popcert's own health while it times a SUT: is the load host, or the load generator, saturated?

A timing verdict is only as good as the clock of the machine taking it. On a shared CI runner a
compliant system can look slow because the host running popcert (and often the SUT) had no CPU
to spare. ``harness/health_monitor.py`` measures a timing window (runnable tasks per core, CPU
steal, load average, the CPU of the load generator's processes, a calibration round trip to a
trivial loopback endpoint of popcert's own before and after); ``assess`` here turns those
figures into a decision against named thresholds (docs/load.md "Saturation"). Timing checks on a
saturated window end ``error`` with an ``inconclusive:`` summary: never ``fail`` because of
popcert's saturation, never ``pass`` on numbers measured while saturated.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, replace
from typing import Any

from harness.checks import CheckResult, Evidence, EvidenceKind, Status
from harness.profiles import INCONCLUSIVE_PREFIX

# --- the criterion: any one of these makes a timing window saturated ---------------------------
# Locust itself warns when a process goes above 90% of a core: beyond it, its event loop sends
# and reads late. "Sustained": in at least a quarter of the window's CPU samples.
GENERATOR_CPU_PERCENT = 90.0
GENERATOR_SUSTAINED_SHARE = 0.25
# How late the open-model driver sent its requests (p99). It is part of every latency the load
# suite reports; a quiet host shows ~2 ms, load average 5 showed 12 ms (docs/load.md).
SEND_LAG_P99_MS = 50.0
# Runnable tasks per core, median of the window's samples (/proc/stat procs_running, the sampler
# itself left out): at 3 every task waits for CPU two thirds of the time.
RUNNABLE_PER_CORE = 3.0
# CPU time stolen by the hypervisor over the window.
STEAL_SHARE = 0.10
# The calibration round trip to popcert's own trivial loopback endpoint, which hashes a fixed
# 4 MiB per request (health_monitor.CALIBRATION_WORK_BYTES: about 3 ms of CPU, more than one
# scheduler slice, as a real request's work is): its wall time over the CPU time the endpoint
# used is how much this host stretches a request that needs CPU (1.0 on an idle host). p90 of
# the rounds, the worse of before/after. This 2-core host at load average 5-7 showed 3-5.5×,
# with 2 CPU hogs per core 7-25× (docs/load.md "Saturation").
CALIBRATION_INFLATION = 4.0


# --- figures -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Calibration:
    """Round trips (ms) to popcert's own trivial endpoint on 127.0.0.1."""

    rounds: int
    p50_ms: float
    p90_ms: float
    max_ms: float
    inflation_p50: float = 1.0  # round trip / CPU time the endpoint used
    inflation_p90: float = 1.0
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"rounds": self.rounds, "p50_ms": self.p50_ms, "p90_ms": self.p90_ms,
                "max_ms": self.max_ms, "inflation_p50": self.inflation_p50,
                "inflation_p90": self.inflation_p90, "error": self.error}


@dataclass(frozen=True)
class ProcessCpu:
    """One load-generator process: its CPU (% of one core) per sample."""

    name: str
    pid: int
    samples: tuple[float, ...] = ()

    @property
    def peak_percent(self) -> float:
        return max(self.samples, default=0.0)

    @property
    def busy_share(self) -> float:
        """Share of the samples at or above GENERATOR_CPU_PERCENT."""
        if not self.samples:
            return 0.0
        return sum(s >= GENERATOR_CPU_PERCENT for s in self.samples) / len(self.samples)

    @property
    def median_percent(self) -> float:
        return statistics.median(self.samples) if self.samples else 0.0

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "pid": self.pid, "samples": len(self.samples),
                "median_percent": round(self.median_percent, 1),
                "peak_percent": round(self.peak_percent, 1),
                "busy_share": round(self.busy_share, 3)}


@dataclass(frozen=True)
class HealthFigures:
    """What was measured over one timing window; None where it could not be measured."""

    what: str  # the window: "load run", "conformance latency timing", ...
    cores: int
    duration_s: float = 0.0
    runnable_per_core: float | None = None  # median of the samples
    runnable_per_core_max: float | None = None
    load1_max: float | None = None
    steal_share: float | None = None
    busy_share: float | None = None  # host CPU not idle, over the window
    calibration_before: Calibration | None = None
    calibration_after: Calibration | None = None
    generator: tuple[ProcessCpu, ...] = ()
    send_lag_p99_ms: float | None = None  # the load driver's (load suite only)

    @property
    def calibration_inflation(self) -> float | None:
        """p90 inflation of the calibration round trip, the worse of before and after."""
        found = [c.inflation_p90 for c in (self.calibration_before, self.calibration_after)
                 if c is not None and c.rounds]
        return max(found) if found else None

    def with_send_lag(self, p99_ms: float | None) -> HealthFigures:
        return replace(self, send_lag_p99_ms=p99_ms)

    def to_json(self) -> dict[str, Any]:
        def rounded(value: float | None, digits: int = 3) -> float | None:
            return None if value is None else round(value, digits)
        return {"what": self.what, "cores": self.cores, "duration_s": round(self.duration_s, 1),
                "runnable_per_core": rounded(self.runnable_per_core, 2),
                "runnable_per_core_max": rounded(self.runnable_per_core_max, 2),
                "load1_max": rounded(self.load1_max, 2),
                "steal_share": rounded(self.steal_share),
                "busy_share": rounded(self.busy_share),
                "calibration_before": (self.calibration_before.to_json()
                                       if self.calibration_before else None),
                "calibration_after": (self.calibration_after.to_json()
                                      if self.calibration_after else None),
                "generator": [p.to_json() for p in self.generator],
                "send_lag_p99_ms": rounded(self.send_lag_p99_ms, 1)}


# --- the decision ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Saturation:
    """``assess``'s answer: saturated or not, and which criteria said so (each with its figure)."""

    figures: HealthFigures
    generator_reasons: tuple[str, ...] = ()
    host_reasons: tuple[str, ...] = ()

    @property
    def saturated(self) -> bool:
        return bool(self.generator_reasons or self.host_reasons)

    def describe(self) -> str:
        """e.g. 'the load generator was saturated (CPU 97%, send lag p99 840 ms)'."""
        parts = []
        if self.generator_reasons:
            parts.append(f"the load generator was saturated ({', '.join(self.generator_reasons)})")
        if self.host_reasons:
            parts.append(f"the host running popcert was saturated ({', '.join(self.host_reasons)})")
        return "; ".join(parts) or "neither the host nor the load generator was saturated"

    def inconclusive(self, advice: str = "re-run on a quieter host or add workers") -> str:
        return f"{INCONCLUSIVE_PREFIX}{self.describe()}; {advice}"

    def to_json(self) -> dict[str, Any]:
        return {"saturated": self.saturated, "reasons": [*self.generator_reasons,
                                                         *self.host_reasons],
                "describe": self.describe(), "figures": self.figures.to_json()}


def assess(figures: HealthFigures) -> Saturation:
    """The saturation criterion (pure): any named threshold crossed makes the window saturated."""
    generator: list[str] = []
    host: list[str] = []
    for process in figures.generator:
        if process.samples and process.busy_share >= GENERATOR_SUSTAINED_SHARE:
            generator.append(f"CPU {process.peak_percent:.0f}%"
                             + (f" in {process.name}" if len(figures.generator) > 1 else "")
                             + f", ≥ {GENERATOR_CPU_PERCENT:g}% in "
                               f"{process.busy_share:.0%} of the samples")
    if figures.send_lag_p99_ms is not None and figures.send_lag_p99_ms >= SEND_LAG_P99_MS:
        generator.append(f"send lag p99 {figures.send_lag_p99_ms:.0f} ms "
                         f"≥ {SEND_LAG_P99_MS:g} ms")
    if figures.runnable_per_core is not None and figures.runnable_per_core >= RUNNABLE_PER_CORE:
        host.append(f"{figures.runnable_per_core:.1f} runnable tasks per core "
                    f"≥ {RUNNABLE_PER_CORE:g} (load average {figures.load1_max or 0:.1f} "
                    f"on {figures.cores} cores)")
    if figures.steal_share is not None and figures.steal_share >= STEAL_SHARE:
        host.append(f"CPU steal {figures.steal_share:.0%} ≥ {STEAL_SHARE:.0%}")
    inflation = figures.calibration_inflation
    if inflation is not None and inflation >= CALIBRATION_INFLATION:
        host.append(f"calibration round trip {inflation:.1f}× its CPU time (p90) "
                    f"≥ {CALIBRATION_INFLATION:g}×")
    return Saturation(figures, tuple(generator), tuple(host))


def is_inconclusive(status: str, summary: str | None) -> bool:
    """A result that could not be judged because popcert's own measurement was saturated."""
    return str(status) == "error" and str(summary or "").startswith(INCONCLUSIVE_PREFIX)


def health_evidence(saturation: Saturation) -> Evidence:
    """The figures as one evidence item (every timing check of a window carries it)."""
    figures = saturation.figures
    host = (f"host: {figures.cores} cores, runnable per core median "
            f"{_fmt(figures.runnable_per_core)} (max {_fmt(figures.runnable_per_core_max)}), "
            f"load average max {_fmt(figures.load1_max)}, steal {_pct(figures.steal_share)}, "
            f"busy {_pct(figures.busy_share)} over {figures.duration_s:.0f} s")
    lines = [saturation.describe(), host]
    for label, calibration in (("before", figures.calibration_before),
                               ("after", figures.calibration_after)):
        if calibration is not None:
            lines.append(f"calibration round trip {label}: p50 {calibration.p50_ms:g} ms, "
                         f"p90 {calibration.p90_ms:g} ms, max {calibration.max_ms:g} ms, "
                         f"{calibration.inflation_p90:g}× its CPU time at p90 "
                         f"({calibration.rounds} rounds)"
                         + (f", {calibration.error}" if calibration.error else ""))
    for process in figures.generator:
        lines.append(f"{process.name} (pid {process.pid}): CPU median "
                     f"{process.median_percent:.0f}%, peak {process.peak_percent:.0f}%, "
                     f"≥ {GENERATOR_CPU_PERCENT:g}% in {process.busy_share:.0%} of "
                     f"{len(process.samples)} samples")
    if figures.send_lag_p99_ms is not None:
        lines.append(f"load driver send lag p99: {figures.send_lag_p99_ms:g} ms")
    return Evidence(EvidenceKind.NOTE, f"popcert's health during the {figures.what}",
                    {"text": "\n".join(lines), "health": saturation.to_json()})


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def inconclusive_result(saturation: Saturation, measured: str, *evidence: Evidence,
                        advice: str = "re-run on a quieter host or add workers",
                        measurements: dict[str, float] | None = None) -> CheckResult:
    """The result of a timing check on a saturated window: `error`, never `pass` or `fail`."""
    return CheckResult(Status.ERROR, f"{saturation.inconclusive(advice)} (measured: {measured})",
                       (health_evidence(saturation), *evidence), dict(measurements or {}))


__all__ = ["Calibration", "HealthFigures", "ProcessCpu", "Saturation", "assess",
           "health_evidence", "inconclusive_result", "is_inconclusive"]
