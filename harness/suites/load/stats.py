"""Locust's CSV output (``--csv PREFIX --csv-full-history``) read into plain dataclasses.

``<prefix>_stats.csv`` holds the final totals and percentiles per endpoint plus an ``Aggregated``
row; ``<prefix>_stats_history.csv`` one row per second and endpoint with cumulative counts. Locust
writes them every second, so the last second of a run may be missing: rates are computed from
the history, over the same rows the totals came from.
"""

from __future__ import annotations

import csv
import itertools
from dataclasses import dataclass
from pathlib import Path

AGGREGATED = "Aggregated"
PERCENTILES = ("50%", "66%", "75%", "80%", "90%", "95%", "98%", "99%", "99.9%", "99.99%", "100%")


class LoadStatsError(ValueError):
    """The CSV files are missing or not what locust writes."""


@dataclass(frozen=True)
class EndpointStats:
    method: str
    name: str
    requests: int
    failures: int
    median_ms: float
    average_ms: float
    max_ms: float
    rps: float
    percentiles_ms: dict[str, float]

    @property
    def p95_ms(self) -> float:
        return self.percentiles_ms.get("95%", 0.0)

    @property
    def p99_ms(self) -> float:
        return self.percentiles_ms.get("99%", 0.0)

    @property
    def error_rate(self) -> float:
        return self.failures / self.requests if self.requests else 0.0

    def to_json(self) -> dict[str, object]:
        return {"method": self.method, "name": self.name, "requests": self.requests,
                "failures": self.failures, "error_rate": round(self.error_rate, 5),
                "median_ms": self.median_ms, "average_ms": round(self.average_ms, 2),
                "p95_ms": self.p95_ms, "p99_ms": self.p99_ms, "max_ms": round(self.max_ms, 2),
                "rps": round(self.rps, 2)}


@dataclass(frozen=True)
class HistoryPoint:
    """One second of the aggregated history (counts are cumulative since the start)."""

    timestamp: int
    users: int
    p95_ms: float | None  # locust's rolling window percentile; None before the first response
    total_requests: int
    total_failures: int
    p50_ms: float | None = None  # the same rolling window, for the percentile charts
    p99_ms: float | None = None


@dataclass(frozen=True)
class LoadStats:
    endpoints: tuple[EndpointStats, ...]
    aggregated: EndpointStats
    history: tuple[HistoryPoint, ...]


def _number(raw: str | None) -> float | None:
    if raw is None or raw.strip() in ("", "N/A"):
        return None
    return float(raw)


def _endpoint(row: dict[str, str]) -> EndpointStats:
    try:
        return EndpointStats(
            method=row.get("Type") or "", name=row["Name"],
            requests=int(row["Request Count"]), failures=int(row["Failure Count"]),
            median_ms=_number(row["Median Response Time"]) or 0.0,
            average_ms=_number(row["Average Response Time"]) or 0.0,
            max_ms=_number(row["Max Response Time"]) or 0.0,
            rps=_number(row["Requests/s"]) or 0.0,
            percentiles_ms={p: _number(row.get(p)) or 0.0 for p in PERCENTILES})
    except (KeyError, ValueError) as bad:
        raise LoadStatsError(f"unexpected locust stats row {row!r}: {bad}") from None


def read_stats(path: Path) -> tuple[tuple[EndpointStats, ...], EndpointStats]:
    """Per-endpoint rows and the ``Aggregated`` row of ``<prefix>_stats.csv``."""
    if not path.is_file():
        raise LoadStatsError(f"{path} was not written (locust did not run or crashed early)")
    with path.open(encoding="utf-8", newline="") as stats_file:
        rows = list(csv.DictReader(stats_file))
    endpoints = tuple(_endpoint(r) for r in rows if r.get("Name") != AGGREGATED)
    aggregated = [_endpoint(r) for r in rows if r.get("Name") == AGGREGATED]
    if not aggregated:
        raise LoadStatsError(f"{path} has no Aggregated row")
    return endpoints, aggregated[0]


def read_history(path: Path) -> tuple[HistoryPoint, ...]:
    """The aggregated rows of ``<prefix>_stats_history.csv``, in time order, one per timestamp."""
    if not path.is_file():
        return ()
    points: dict[int, HistoryPoint] = {}
    with path.open(encoding="utf-8", newline="") as history_file:
        for row in csv.DictReader(history_file):
            if row.get("Name") != AGGREGATED:
                continue
            try:
                point = HistoryPoint(
                    timestamp=int(row["Timestamp"]), users=int(row["User Count"]),
                    p95_ms=_number(row.get("95%")),
                    total_requests=int(row["Total Request Count"]),
                    total_failures=int(row["Total Failure Count"]),
                    p50_ms=_number(row.get("50%")), p99_ms=_number(row.get("99%")))
            except (KeyError, ValueError) as bad:
                raise LoadStatsError(f"unexpected locust history row {row!r}: {bad}") from None
            # Locust can write two rows for one second; the later one has the larger counts.
            points[point.timestamp] = point
    return tuple(points[t] for t in sorted(points))


def read_run(prefix: Path) -> LoadStats:
    endpoints, aggregated = read_stats(Path(f"{prefix}_stats.csv"))
    return LoadStats(endpoints, aggregated, read_history(Path(f"{prefix}_stats_history.csv")))


@dataclass(frozen=True)
class SustainedRate:
    """Successful requests per second over the steady part of the run (after the ramp-up)."""

    rps: float
    window_s: int
    requests: int
    start: int | None
    end: int | None


def sustained_rate(history: tuple[HistoryPoint, ...], users: int,
                   warmup_s: int = 1) -> SustainedRate:
    """Rate of *successful* requests once every user runs; failures are not throughput.

    The window starts ``warmup_s`` after the first second with all users spawned (connections
    and TLS handshakes happen in that second) and ends at the last row. A run too short for a
    steady window of 2 s falls back to the whole history.
    """
    if len(history) < 2:
        return SustainedRate(0.0, 0, 0, None, None)
    spawned = [p for p in history if p.users >= users]
    start = None
    if spawned:
        start_ts = spawned[0].timestamp + warmup_s
        settled = [p for p in history if p.timestamp >= start_ts]
        if settled and history[-1].timestamp - settled[0].timestamp >= 2:
            start = settled[0]
    if start is None:
        start = history[0]
    # Counts restart at zero when locust resets its statistics (--reset-stats after spawning).
    for before, after in itertools.pairwise(history):
        if after.total_requests < before.total_requests and after.timestamp >= start.timestamp:
            start = after
    end = history[-1]
    window = end.timestamp - start.timestamp
    done = (end.total_requests - end.total_failures) - (start.total_requests - start.total_failures)
    rps = done / window if window > 0 else 0.0
    return SustainedRate(rps, window, done, start.timestamp, end.timestamp)


def throughput_series(history: tuple[HistoryPoint, ...]) -> dict[str, list[tuple[float, float]]]:
    """Per-second successful and failed rates from the cumulative counts (for Evidence.chart)."""
    if not history:
        return {"ok_rps": [], "failed_rps": [], "users": []}
    t0 = history[0].timestamp
    ok: list[tuple[float, float]] = []
    failed: list[tuple[float, float]] = []
    for before, after in itertools.pairwise(history):
        dt = after.timestamp - before.timestamp or 1
        if after.total_requests < before.total_requests:
            continue  # the statistics reset after spawning; no rate for that second
        fails = after.total_failures - before.total_failures
        oks = (after.total_requests - before.total_requests) - fails
        ok.append((float(after.timestamp - t0), round(oks / dt, 2)))
        failed.append((float(after.timestamp - t0), round(fails / dt, 2)))
    users = [(float(p.timestamp - t0), float(p.users)) for p in history]
    return {"ok_rps": ok, "failed_rps": failed, "users": users}


def latency_series(history: tuple[HistoryPoint, ...]) -> dict[str, list[tuple[float, float]]]:
    """p50, p95 and p99 of locust's rolling window, per second (for Evidence.chart)."""
    t0 = history[0].timestamp if history else 0
    return {name: [(float(p.timestamp - t0), value) for p in history
                   if (value := getattr(p, name)) is not None and p.total_requests]
            for name in ("p50_ms", "p95_ms", "p99_ms")}


def failure_counts(failures_csv: Path, width: int = 60) -> dict[str, int]:
    """Occurrences per error text (whitespace folded, cut to ``width``) in ``_failures.csv``."""
    counts: dict[str, int] = {}
    if failures_csv.is_file():
        with failures_csv.open(encoding="utf-8", newline="") as rows:
            for row in csv.DictReader(rows):
                error = " ".join(str(row.get("Error") or "unknown").split())[:width]
                try:
                    counts[error] = counts.get(error, 0) + int(row.get("Occurrences") or 0)
                except ValueError:
                    continue
    return counts


def errors_by_type(failures_csv: Path, limit: int = 8) -> dict[str, list[tuple[float, float]]]:
    """Occurrences per error type from locust's ``_failures.csv`` (one bar per type)."""
    counts = failure_counts(failures_csv)
    top = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:limit]
    return {error: [(0.0, float(count))] for error, count in top}
