"""Measuring popcert's health over a timing window, for ``harness.health.assess``.

Linux ``/proc`` read directly (host counters, each load-generator process's CPU), and a
calibration round trip to a trivial HTTP endpoint of popcert's own on 127.0.0.1 before and after
the window. Nothing here leaves the loopback interface; every wait is bounded.
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
from dataclasses import dataclass
from pathlib import Path
from typing import Self

from harness.health import Calibration, HealthFigures, ProcessCpu

CALIBRATION_WORK_BYTES = 4 * 1024 * 1024  # ~3 ms of CPU: more than one scheduler slice
CALIBRATION_ROUNDS = 20
CALIBRATION_GAP_S = 0.005  # between rounds: each round is a fresh wake-up, as a request's is
CALIBRATION_DEADLINE_S = 5.0
SAMPLE_INTERVAL_S = 0.5
_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


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
            self._thread.join(timeout=2 * self._interval + 1)
        self._sample()
        duration = time.monotonic() - self._started
        if self._calibration and exc[0] is None:  # an interrupt or a failure leaves at once
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


__all__ = ["HealthMonitor", "calibrate", "cores", "process_cpu_seconds", "read_host"]
