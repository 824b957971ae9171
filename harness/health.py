"""popcert's own health while it times a SUT: is the load host, or the load generator, saturated?

A timing verdict is only as good as the clock of the machine taking it. On a shared CI runner a
compliant system can look slow because the host running popcert (and often the SUT) had no CPU
to spare. ``HealthMonitor`` measures the host over a timing window (runnable tasks per core, CPU
steal, load average), the CPU of the load generator's processes, and a calibration round trip to
a trivial loopback endpoint of popcert's own before and after; ``assess`` turns those figures
into a decision against named thresholds (docs/load.md "Saturation"). Timing checks on a
saturated window end ``error`` with an ``inconclusive:`` summary, never ``fail`` because of
popcert's saturation and never ``pass`` on numbers measured while saturated.

Standard library only (plus ``harness.checks`` for evidence): Linux ``/proc`` is read directly.
"""

from __future__ import annotations

import hashlib
import math
import os
import socket
import statistics
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Self

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
# CALIBRATION_WORK_BYTES per request (about 3 ms of CPU, more than one scheduler slice, as a real
# request's work is): its wall time over the CPU time the endpoint used is how much this host
# stretches a request that needs CPU (1.0 on an idle host). p90 of the rounds, the worse of
# before/after. This 2-core host at load average 5-7 showed 3.5-4.2×, with 2 CPU hogs per core
# 12-25× (docs/load.md "Saturation").
CALIBRATION_INFLATION = 4.0
CALIBRATION_WORK_BYTES = 4 * 1024 * 1024

CALIBRATION_ROUNDS = 20
CALIBRATION_GAP_S = 0.005  # between rounds: each round is a fresh wake-up, as a request's is
CALIBRATION_DEADLINE_S = 5.0
SAMPLE_INTERVAL_S = 0.5
_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


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


# --- measuring ---------------------------------------------------------------------------------
def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


@dataclass(frozen=True)
class HostSample:
    """One reading of /proc/stat and /proc/loadavg."""

    at: float
    total_ticks: int
    idle_ticks: int  # idle + iowait
    steal_ticks: int
    procs_running: int
    load1: float


def read_host(proc: Path = Path("/proc")) -> HostSample | None:
    try:
        stat = (proc / "stat").read_text(encoding="ascii")
        load1 = float((proc / "loadavg").read_text(encoding="ascii").split()[0])
    except (OSError, ValueError, IndexError):
        return None
    ticks: list[int] = []
    running = 0
    for line in stat.splitlines():
        if line.startswith("cpu "):
            ticks = [int(v) for v in line.split()[1:]]
        elif line.startswith("procs_running "):
            running = int(line.split()[1])
    if len(ticks) < 8:
        return None
    # user nice system idle iowait irq softirq steal [guest guest_nice: already in user/nice]
    return HostSample(time.monotonic(), sum(ticks[:8]), ticks[3] + ticks[4], ticks[7], running,
                      load1)


def process_cpu_seconds(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _CLK_TCK
    except (OSError, ValueError, IndexError):
        return None


_BLOCK = b"\x00" * 65536


def _work() -> None:
    """The endpoint's fixed work unit (hashlib releases the GIL on large buffers)."""
    digest = hashlib.sha256()
    for _ in range(CALIBRATION_WORK_BYTES // len(_BLOCK)):
        digest.update(_BLOCK)


class _Trivial:
    """popcert's own trivial endpoint: 127.0.0.1, port 0, ``204 No Content`` to every request
    after its fixed work unit, with the CPU time it used in ``X-Cpu-Us``."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True,
                                       name="popcert-calibration")
        self.thread.start()

    def _serve(self) -> None:
        try:
            conn, _ = self.listener.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(CALIBRATION_DEADLINE_S)
            pending = b""
            try:
                while True:
                    chunk = conn.recv(4096)
                    if not chunk:
                        return
                    pending += chunk
                    while b"\r\n\r\n" in pending:
                        _, pending = pending.split(b"\r\n\r\n", 1)
                        started = time.thread_time()
                        _work()
                        used_us = int((time.thread_time() - started) * 1e6)
                        conn.sendall(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n"
                                     b"X-Cpu-Us: %d\r\n\r\n" % used_us)
            except OSError:
                return

    def close(self) -> None:
        self.listener.close()
        self.thread.join(timeout=CALIBRATION_DEADLINE_S)


def calibrate(rounds: int = CALIBRATION_ROUNDS, gap_s: float = CALIBRATION_GAP_S,
              deadline_s: float = CALIBRATION_DEADLINE_S) -> Calibration:
    """Time ``rounds`` HTTP round trips on one keep-alive connection to popcert's own endpoint.

    Nothing leaves 127.0.0.1. Each round waits ``gap_s`` first, so it measures a fresh wake-up
    of both ends as a request's does; the whole is bounded by ``deadline_s``.
    """
    times: list[float] = []
    ratios: list[float] = []
    error: str | None = None
    server = _Trivial()
    ends = time.monotonic() + deadline_s
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=deadline_s) as client:
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            request = b"GET /calibration HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
            for _ in range(rounds + 1):  # the first round opens the path: not counted
                if time.monotonic() > ends:
                    error = f"stopped at its {deadline_s:g} s bound"
                    break
                time.sleep(gap_s)
                started = time.perf_counter()
                client.sendall(request)
                answer = b""
                while not answer.endswith(b"\r\n\r\n"):
                    chunk = client.recv(256)
                    if not chunk:
                        raise ConnectionError("the calibration endpoint closed")
                    answer += chunk
                elapsed_ms = (time.perf_counter() - started) * 1000
                times.append(elapsed_ms)
                ratios.append(elapsed_ms / max(0.05, _cpu_ms(answer)))
    except OSError as broken:
        error = f"{type(broken).__name__}: {broken}"
    finally:
        server.close()
    counted = sorted(times[1:])
    inflation = sorted(ratios[1:])
    if not counted:
        return Calibration(0, 0.0, 0.0, 0.0, error=error or "no round trip")
    return Calibration(len(counted), round(statistics.median(counted), 3),
                       round(_p90(counted), 3), round(counted[-1], 3),
                       round(statistics.median(inflation), 2), round(_p90(inflation), 2), error)


def _p90(ordered: list[float]) -> float:
    return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]  # nearest rank


def _cpu_ms(answer: bytes) -> float:
    for line in answer.split(b"\r\n"):
        if line.lower().startswith(b"x-cpu-us:"):
            return int(line.split(b":", 1)[1]) / 1000
    return 0.0


class HealthMonitor:
    """Measures one timing window: calibration before, samples during, calibration after.

    ``processes`` is called at each sample and returns the load generator's processes as
    (name, pid) pairs (they may start after the window does). Use as a context manager; read
    ``figures`` after it exits.
    """

    def __init__(self, what: str, processes: Callable[[], Iterable[tuple[str, int]]] | None = None,
                 *, interval_s: float = SAMPLE_INTERVAL_S, calibration: bool = True) -> None:
        self.what = what
        self._processes = processes or (lambda: ())
        self._interval = interval_s
        self._calibration = calibration
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._host: list[HostSample] = []
        self._cpu: dict[int, tuple[str, list[float]]] = {}
        self._last_cpu: dict[int, tuple[float, float]] = {}
        self._before: Calibration | None = None
        self._after: Calibration | None = None
        self._started = 0.0
        self.figures: HealthFigures | None = None

    def __enter__(self) -> Self:
        if self._calibration:
            self._before = calibrate(CALIBRATION_ROUNDS)
        self._started = time.monotonic()
        self._sample()
        self._thread = threading.Thread(target=self._run, daemon=True, name="popcert-health")
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._sample()
        duration = time.monotonic() - self._started
        if self._calibration:
            self._after = calibrate(CALIBRATION_ROUNDS)
        self.figures = self._figures(duration)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._sample()

    def _sample(self) -> None:
        host = read_host()
        if host is not None:
            self._host.append(host)
        now = time.monotonic()
        for name, pid in list(self._processes()):
            used = process_cpu_seconds(pid)
            if used is None:
                continue
            last = self._last_cpu.get(pid)
            self._last_cpu[pid] = (now, used)
            if last is not None and now - last[0] >= self._interval / 2:
                percent = 100.0 * (used - last[1]) / (now - last[0])
                self._cpu.setdefault(pid, (name, []))[1].append(percent)

    def _figures(self, duration_s: float) -> HealthFigures:
        n = cores()
        samples = self._host
        runnable = [max(0, s.procs_running - 1) / n for s in samples]  # the sampler itself
        steal = busy = None
        if len(samples) >= 2:
            total = samples[-1].total_ticks - samples[0].total_ticks
            if total > 0:
                steal = (samples[-1].steal_ticks - samples[0].steal_ticks) / total
                busy = 1 - (samples[-1].idle_ticks - samples[0].idle_ticks) / total
        return HealthFigures(
            self.what, n, duration_s,
            runnable_per_core=statistics.median(runnable) if runnable else None,
            runnable_per_core_max=max(runnable) if runnable else None,
            load1_max=max((s.load1 for s in samples), default=None),
            steal_share=steal, busy_share=busy,
            calibration_before=self._before, calibration_after=self._after,
            generator=tuple(ProcessCpu(name, pid, tuple(cpu))
                            for pid, (name, cpu) in sorted(self._cpu.items())))


__all__ = ["Calibration", "HealthFigures", "HealthMonitor", "ProcessCpu", "Saturation",
           "assess", "calibrate", "health_evidence", "inconclusive_result", "is_inconclusive"]
