"""When the audit log cannot be written (disk full under the state dir), the mock fails closed:
a call whose entry cannot be journalled is answered 500. This module keeps the outage's facts so
``/admin/health`` can report it while it lasts, and the audit log gets one entry describing it
when writing works again (issue 24: 187 calls answered 500 left an unexplained gap before).
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

OUTAGE_ENDPOINT = "audit-outage"  # the audit entry's endpoint; also its path, /audit-outage


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")


@dataclass
class Outage:
    since: float  # the first failure (time.time())
    calls_failed_closed: int = 0  # calls answered 500 because their entry could not be journalled
    flush_failures: int = 0  # database writes that failed (entries kept in the journal and memory)
    last_error: str = ""

    def entry(self, until: float) -> dict[str, Any]:
        """The one audit entry that records this outage (``AuditLog.record`` keywords)."""
        return {"ts": self.since, "method": "EVENT", "endpoint": OUTAGE_ENDPOINT,
                "path": f"/{OUTAGE_ENDPOINT}", "status": 500,
                "latency_ms": round((until - self.since) * 1000, 1),
                "fields_returned": [f"calls_failed_closed:{self.calls_failed_closed}",
                                    f"flush_failures:{self.flush_failures}",
                                    f"from:{_iso(self.since)}", f"to:{_iso(until)}",
                                    f"error:{self.last_error}"]}


class OutageTracker:
    """The open outage, if any; thread-safe (records come from the event loop, flushes from a
    worker thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: Outage | None = None
        self.recorded = 0  # outages already written to the log

    def failed(self, error: BaseException, *, call: bool) -> None:
        with self._lock:
            if self._open is None:
                self._open = Outage(since=time.time())
                print(f"mock NPDB: the audit log cannot be written ({_describe(error)}): data "
                      "calls fail closed (500) until it can", file=sys.stderr, flush=True)
            if call:
                self._open.calls_failed_closed += 1
            else:
                self._open.flush_failures += 1
            self._open.last_error = _describe(error)

    @property
    def open(self) -> Outage | None:
        return self._open

    def close(self) -> Outage | None:
        """The outage that just ended (None if none was open)."""
        with self._lock:
            ended, self._open = self._open, None
            return ended

    def reopen(self, outage: Outage) -> None:
        """The entry recording ``outage`` could not be written: it is still going on (merged
        with any failure counted meanwhile)."""
        with self._lock:
            if self._open is not None:
                outage.calls_failed_closed += self._open.calls_failed_closed
                outage.flush_failures += self._open.flush_failures
                outage.last_error = self._open.last_error
            self._open = outage

    def health(self) -> dict[str, Any]:
        outage = self._open
        if outage is None:
            return {"state": "ok", "outages_recorded": self.recorded}
        return {"state": "degraded", "since": _iso(outage.since),
                "calls_failed_closed": outage.calls_failed_closed,
                "flush_failures": outage.flush_failures, "error": outage.last_error,
                "outages_recorded": self.recorded,
                "meaning": "the audit log cannot be written: data calls are answered 500 "
                           "(fail closed); one audit entry will record the outage when writing "
                           "works again"}


def _describe(error: BaseException) -> str:
    strerror = getattr(error, "strerror", None)
    return " ".join(str(strerror or error or type(error).__name__).split())[:200]
