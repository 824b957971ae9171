"""Loaded INSIDE the schemathesis child (by ``guard`` when ``POPCERT_CONF_PROGRESS`` names a
file), never in popcert itself: the run's progress, appended to that file as one JSON line at most
every ``INTERVAL_S`` and one at the end.

A line: ``{"requests": N, "failed": N, "operation": "POST /dossiers", "phase": "fuzzing"}``.
``requests`` counts the requests sent so far (guard calls ``request_sent`` from its send, so the
count moves while a long scenario runs); ``failed`` the requests with at least one failed check,
from the engine's events, each case once (as runner.parse_events counts them). A schemathesis CLI
event handler feeds the rest. The parent reads only the file's last line (harness.live).
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from typing import Any

from schemathesis.cli.commands.run.handlers.base import EventHandler
from schemathesis.cli.ext.handlers import handler
from schemathesis.engine import Status, events

from harness.suites.conformance.progress import PROGRESS_ENV

INTERVAL_S = 1.0
MAX_SEEN = 200_000  # case ids remembered to count each failed request once; a bound, not a need


class Counts:
    """The run so far; written to the progress file at most every INTERVAL_S."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.requests = 0
        self.failed = 0
        self.operation = ""
        self.phase = ""
        self.seen: set[str] = set()
        self.written_at = 0.0
        self.lock = threading.Lock()

    def write(self, *, final: bool = False) -> None:
        """Append the counts, unless a line went out less than INTERVAL_S ago (call locked)."""
        if not final and time.monotonic() - self.written_at < INTERVAL_S:
            return
        self.written_at = time.monotonic()
        line = json.dumps({"requests": self.requests, "failed": self.failed,
                           "operation": self.operation[:200], "phase": self.phase[:40]})
        with open(self.path, "a", encoding="utf-8") as progress:
            progress.write(line + "\n")


COUNTS = Counts(os.environ.get(PROGRESS_ENV, ""))


def request_sent() -> None:
    """Called by guard for every request the child sends."""
    with contextlib.suppress(Exception), COUNTS.lock:  # progress never breaks the fuzzing run
        COUNTS.requests += 1
        COUNTS.write()


class ProgressFile(EventHandler[Any]):
    """Takes the operation, the phase and the failed requests from the engine's events."""

    def __init__(self, *args: Any, **params: Any) -> None:
        pass

    def handle_event(self, ctx: Any, event: events.EngineEvent) -> None:
        with contextlib.suppress(Exception), COUNTS.lock:  # never break the fuzzing run
            _count(event)
            COUNTS.write(final=event.is_terminal)


def _count(event: events.EngineEvent) -> None:
    if isinstance(event, events.ScenarioStarted):
        COUNTS.operation = str(event.label or "")
        COUNTS.phase = str(getattr(event.phase, "value", event.phase))
    elif isinstance(event, events.ScenarioFinished):
        for case_id, checks in event.recorder.checks.items():
            if case_id in COUNTS.seen:  # shrinking replays a case: count it once
                continue
            if len(COUNTS.seen) < MAX_SEEN:
                COUNTS.seen.add(case_id)
            if any(check.status == Status.FAILURE for check in checks):
                COUNTS.failed += 1


if COUNTS.path:
    handler()(ProgressFile)
