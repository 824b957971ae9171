"""Latency measured from each request's *intended* send time (no coordinated omission).

The locustfile schedules every user's requests on a fixed open-model timetable and records, per
request, ``completion - intended send time`` into a log-linear histogram (HDR-like, ≤ 0.4%
relative error). A stalled SUT therefore shows the full wait of every request that was due during
the stall, as wrk2 and k6 report it, instead of the one request locust's closed loop happened to
have in flight. Workers send their histograms to the master with locust's stats reports; the
master (or the single local process) writes ``<csv prefix>_latency.json``, read here.

Imported by the locustfile too (inside locust's gevent process): standard library only.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Values below 256 µs are exact; above, 128 sub-buckets per power of two.
_EXACT = 256
_SUB = 128


def bucket_of(value_us: int) -> int:
    if value_us < _EXACT:
        return max(0, value_us)
    shift = value_us.bit_length() - 8
    return _EXACT + (shift - 1) * _SUB + ((value_us >> shift) - _SUB)


def bucket_value(key: int) -> float:
    """The midpoint of a bucket, in µs."""
    if key < _EXACT:
        return float(key)
    shift = (key - _EXACT) // _SUB + 1
    mantissa = (key - _EXACT) % _SUB + _SUB
    return ((mantissa << shift) + ((mantissa + 1) << shift) - 1) / 2


class Histogram:
    """Counts of latencies (µs) by bucket; mergeable and serialisable as JSON."""

    __slots__ = ("counts", "max_us", "total")

    def __init__(self) -> None:
        self.counts: dict[int, int] = {}
        self.total = 0
        self.max_us = 0

    def record(self, value_us: int) -> None:
        key = bucket_of(value_us)
        counts = self.counts
        counts[key] = counts.get(key, 0) + 1
        self.total += 1
        self.max_us = max(self.max_us, value_us)

    def merge(self, other: Histogram) -> None:
        for key, count in other.counts.items():
            self.counts[key] = self.counts.get(key, 0) + count
        self.total += other.total
        self.max_us = max(self.max_us, other.max_us)

    def percentile_ms(self, fraction: float) -> float:
        """The latency below which ``fraction`` of the requests completed (nearest rank)."""
        if not self.total:
            return 0.0
        rank = max(1, math.ceil(fraction * self.total))
        seen = 0
        for key in sorted(self.counts):
            seen += self.counts[key]
            if seen >= rank:
                return round(min(bucket_value(key), self.max_us) / 1000, 2)
        return round(self.max_us / 1000, 2)  # pragma: no cover - rank <= total

    def to_json(self) -> dict[str, Any]:
        return {"counts": {str(k): v for k, v in self.counts.items()}, "max_us": self.max_us}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Histogram:
        histogram = cls()
        for key, count in (data.get("counts") or {}).items():
            if int(count) > 0:
                histogram.counts[int(key)] = int(count)
                histogram.total += int(count)
        histogram.max_us = int(data.get("max_us") or 0)
        return histogram


COUNTERS = ("due", "ok", "failed", "unfinished")
DRAIN_S = 1


class LatencyRecorder:
    """One process's corrected latencies per endpoint, and how many requests were due / done.

    ``due`` counts every request whose intended send time passed while the run went on, sent or
    not (a user blocked by a stalled SUT still owes its timetable); ``ok``/``failed`` count the
    completed ones. ``ok / due`` is the share of the offered rate the SUT delivered.
    """

    def __init__(self) -> None:
        self.endpoints: dict[str, Histogram] = {}
        self.counters = dict.fromkeys(COUNTERS, 0)
        self.window: list[float] = []  # wall-clock [first, last] intended send time
        # Per wall-clock second: requests due (by intended send time), requests completed
        # successfully (by completion time).
        self.due_by_s: dict[int, int] = {}
        self.ok_by_s: dict[int, int] = {}
        # How late the driver itself sent each request (CPU starvation of the load host): part
        # of every latency above, so a large value says the figures are pessimistic.
        self.send_lag = Histogram()
        # Per endpoint, successful answers timed from their *actual* send (no driver lag): the
        # SUT's own floor, which the saturation rule reads (thresholds.py).
        self.service: dict[str, Histogram] = {}

    def record(self, name: str, latency_s: float, ok: bool, intended_wall: float,
               service_s: float | None = None) -> None:
        histogram = self.endpoints.get(name)
        if histogram is None:
            histogram = self.endpoints[name] = Histogram()
        histogram.record(int(latency_s * 1e6))
        self.counters["ok" if ok else "failed"] += 1
        if ok and service_s is not None:
            service = self.service.get(name)
            if service is None:
                service = self.service[name] = Histogram()
            service.record(int(max(0.0, service_s) * 1e6))
        if ok:
            second = int(intended_wall + latency_s)
            self.ok_by_s[second] = self.ok_by_s.get(second, 0) + 1
        window = self.window
        if not window or not window[0] <= intended_wall <= window[1]:  # mostly inside: no call
            self._extend(intended_wall)

    def record_send_lag(self, lag_s: float) -> None:
        self.send_lag.record(int(max(0.0, lag_s) * 1e6))

    def record_unfinished(self, name: str, waited_s: float, intended_wall: float) -> None:
        """A request still unanswered when the run stopped: its wait so far is a lower bound of
        its latency and belongs in the percentiles (a SUT that stalls at the end shows)."""
        histogram = self.endpoints.get(name)
        if histogram is None:
            histogram = self.endpoints[name] = Histogram()
        histogram.record(int(waited_s * 1e6))
        self.counters["unfinished"] += 1
        self._extend(intended_wall)

    def _extend(self, wall: float) -> None:
        if not self.window:
            self.window = [wall, wall]
        elif wall < self.window[0]:
            self.window[0] = wall
        elif wall > self.window[1]:
            self.window[1] = wall

    def add_due(self, count: int, first_wall: float | None = None,
                interval_s: float = 0.0) -> None:
        """``count`` slots came due, the first at ``first_wall``, then every ``interval_s``."""
        self.counters["due"] += count
        if first_wall is None:
            return
        if count == 1 or interval_s <= 0:
            second = int(first_wall)
            self.due_by_s[second] = self.due_by_s.get(second, 0) + count
            return
        # Slot k falls at first_wall + k·interval: count them per second, not one by one.
        last_wall = first_wall + (count - 1) * interval_s
        placed = 0
        for second in range(int(first_wall), int(last_wall) + 1):
            upto = min(count, math.floor((second + 1 - first_wall) / interval_s - 1e-9) + 1)
            if upto > placed:
                self.due_by_s[second] = self.due_by_s.get(second, 0) + upto - placed
                placed = upto
        if placed < count:  # float rounding at the last edge
            second = int(last_wall)
            self.due_by_s[second] = self.due_by_s.get(second, 0) + count - placed

    def to_json(self) -> dict[str, Any]:
        return {"version": 1, "endpoints": {n: h.to_json() for n, h in self.endpoints.items()},
                "counters": dict(self.counters), "window": list(self.window),
                "due_by_s": {str(k): v for k, v in self.due_by_s.items()},
                "ok_by_s": {str(k): v for k, v in self.ok_by_s.items()},
                "send_lag": self.send_lag.to_json(),
                "service": {n: h.to_json() for n, h in self.service.items()}}

    def drain(self) -> dict[str, Any]:
        """What was recorded since the last drain (a worker's share of one stats report)."""
        data = self.to_json()
        self.__init__()  # type: ignore[misc]
        return data

    def merge_json(self, data: dict[str, Any]) -> None:
        for name, raw in (data.get("endpoints") or {}).items():
            self.endpoints.setdefault(name, Histogram()).merge(Histogram.from_json(raw))
        for counter in COUNTERS:
            self.counters[counter] += int((data.get("counters") or {}).get(counter, 0))
        for wall in data.get("window") or []:
            self._extend(float(wall))
        self.send_lag.merge(Histogram.from_json(data.get("send_lag") or {}))
        for name, raw in (data.get("service") or {}).items():
            self.service.setdefault(name, Histogram()).merge(Histogram.from_json(raw))
        for mine, theirs in ((self.due_by_s, data.get("due_by_s")),
                             (self.ok_by_s, data.get("ok_by_s"))):
            for second, count in (theirs or {}).items():
                mine[int(second)] = mine.get(int(second), 0) + int(count)

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json()), encoding="utf-8")


@dataclass(frozen=True)
class EndpointLatency:
    name: str
    requests: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float

    def percentile(self, which: str) -> float:
        return {"50%": self.p50_ms, "95%": self.p95_ms, "99%": self.p99_ms}[which]

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "requests": self.requests, "p50_ms": self.p50_ms,
                "p95_ms": self.p95_ms, "p99_ms": self.p99_ms, "max_ms": self.max_ms}


@dataclass(frozen=True)
class ServiceFloor:
    """One endpoint's successful answers timed from their actual send: how fast the SUT was at
    its fastest (``floor_ms``, the FLOOR_FRACTION quantile), whatever the driver's lag."""

    name: str
    requests: int
    floor_ms: float
    p50_ms: float

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "requests": self.requests, "floor_ms": self.floor_ms,
                "p50_ms": self.p50_ms}


FLOOR_FRACTION = 0.05  # the floor: 95% of the endpoint's successful answers took at least this


@dataclass(frozen=True)
class CorrectedLatency:
    """What ``<prefix>_latency.json`` says: percentiles from intended send times, and counts."""

    aggregated: EndpointLatency
    endpoints: tuple[EndpointLatency, ...]
    due: int
    ok: int
    failed: int
    window: tuple[float, ...] = field(default_factory=tuple)
    # (second, requests due then, requests completed successfully then), in time order.
    timetable: tuple[tuple[int, int, int], ...] = field(default_factory=tuple)
    send_lag_p50_ms: float = 0.0
    send_lag_p99_ms: float = 0.0
    service: tuple[ServiceFloor, ...] = ()

    @property
    def delivered_ratio(self) -> float:
        """Successful completions per second over requests due per second (1.0: kept up).

        Over the steady seconds: the first (users still starting) and the last (cut by the stop)
        are left out. A SUT that cannot keep up completes its capacity per second while the
        timetable keeps making the offered rate due, so the ratio is capacity / offered.
        """
        if not self.timetable:
            return self.ok / self.due if self.due else 0.0
        first, last = self.timetable[0][0], self.timetable[-1][0]
        kept = [(due, ok) for second, due, ok in self.timetable
                if first + DRAIN_S <= second < last - DRAIN_S + 1]
        due = sum(d for d, _ in kept)
        if due < 20:  # too short to trim: the whole run
            return self.ok / self.due if self.due else 0.0
        return sum(o for _, o in kept) / due


def _summary(name: str, histogram: Histogram) -> EndpointLatency:
    return EndpointLatency(name, histogram.total, histogram.percentile_ms(0.50),
                           histogram.percentile_ms(0.95), histogram.percentile_ms(0.99),
                           round(histogram.max_us / 1000, 2))


def summarise(recorder: LatencyRecorder) -> CorrectedLatency:
    total = Histogram()
    for histogram in recorder.endpoints.values():
        total.merge(histogram)
    endpoints = tuple(_summary(name, h) for name, h in sorted(recorder.endpoints.items()))
    counters = recorder.counters
    seconds = sorted(set(recorder.due_by_s) | set(recorder.ok_by_s))
    timetable = tuple((second, recorder.due_by_s.get(second, 0), recorder.ok_by_s.get(second, 0))
                      for second in seconds)
    return CorrectedLatency(_summary("Aggregated", total), endpoints, counters["due"],
                            counters["ok"], counters["failed"], tuple(recorder.window), timetable,
                            recorder.send_lag.percentile_ms(0.5),
                            recorder.send_lag.percentile_ms(0.99),
                            tuple(ServiceFloor(name, h.total, h.percentile_ms(FLOOR_FRACTION),
                                               h.percentile_ms(0.5))
                                  for name, h in sorted(recorder.service.items())))


def read_latency(path: Path) -> CorrectedLatency | None:
    """None when the file is missing or unreadable (the checks then report an error)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        recorder = LatencyRecorder()
        recorder.merge_json(data)
    except (OSError, ValueError, TypeError, AttributeError):
        return None
    return summarise(recorder)


def latency_path(csv_prefix: Path | str) -> Path:
    return Path(f"{csv_prefix}_latency.json")
