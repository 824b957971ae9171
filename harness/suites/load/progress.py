"""The load run's live progress from locust's own statistics: the newest Aggregated row of
``<prefix>_stats_history.csv`` (locust flushes it every few seconds), read while locust runs.

Only the file's header and its last line are read (harness.live.read_last_line), each bounded,
so the progress costs nothing beside the load generator whatever the file has grown to.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

from harness.live import MAX_LINE_BYTES, one_line, read_last_line

AGGREGATED = "Aggregated"


def _header(path: Path) -> list[str] | None:
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    try:
        first = os.read(fd, MAX_LINE_BYTES).split(b"\n", 1)[0]
    except OSError:
        return None
    finally:
        os.close(fd)
    return next(csv.reader([first.decode("utf-8", "replace")]), None)


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value not in (None, "", "N/A") else None
    except ValueError:
        return None


def load_progress(history: Path, *, elapsed_s: float, duration_s: float) -> str:
    """``50 users, 48 req/s, p95 120 ms, 2 failed, 75 s left`` (the parts locust has written)."""
    left = f"{max(0.0, duration_s - elapsed_s):.0f} s left"
    header, last = _header(history), read_last_line(history)
    if not header or not last:
        return f"starting locust, {left}"
    row = dict(zip(header, next(csv.reader([last]), []), strict=False))
    if row.get("Name") != AGGREGATED:
        return f"running, {left}"
    users, rps = _number(row.get("User Count")), _number(row.get("Requests/s"))
    p95, failed = _number(row.get("95%")), _number(row.get("Total Failure Count"))
    parts = [f"{users:.0f} users" if users is not None else "",
             f"{rps:.0f} req/s" if rps is not None else "",
             f"p95 {p95:.0f} ms" if p95 is not None else "",
             f"{failed:.0f} failed" if failed is not None else "", left]
    return one_line(", ".join(part for part in parts if part))
