"""Loaded INSIDE the schemathesis child (by ``guard`` when ``POPCERT_CONF_PROGRESS`` names a
file), never in popcert itself: a schemathesis CLI event handler that appends the run's progress
to that file, one JSON line at most every ``INTERVAL_S`` and one at the end.

A line: ``{"requests": N, "failed": N, "operation": "POST /dossiers", "phase": "fuzzing"}``,
``failed`` counting requests with at least one failed check (as runner.parse_events counts them,
each case once). The parent reads only the file's last line (harness.live.read_last_line).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from typing import Any

from schemathesis.cli.commands.run.handlers.base import EventHandler
from schemathesis.cli.ext.handlers import handler
from schemathesis.engine import Status, events

from harness.suites.conformance.progress import PROGRESS_ENV

INTERVAL_S = 1.0
MAX_SEEN = 200_000  # case ids remembered to count each failed request once; a bound, not a need


class ProgressFile(EventHandler[Any]):
    """Counts requests and failed requests from the engine's events; writes them to the file."""

    def __init__(self, *args: Any, **params: Any) -> None:
        self.path = os.environ.get(PROGRESS_ENV, "")
        self.requests = 0
        self.failed = 0
        self.operation = ""
        self.phase = ""
        self.seen: set[str] = set()
        self.written_at = 0.0

    def handle_event(self, ctx: Any, event: events.EngineEvent) -> None:
        with contextlib.suppress(Exception):  # progress must never break the fuzzing run
            self._count(event)
            if event.is_terminal or time.monotonic() - self.written_at >= INTERVAL_S:
                self._write()

    def _count(self, event: events.EngineEvent) -> None:
        if isinstance(event, events.ScenarioStarted):
            self.operation = str(event.label or "")
            self.phase = str(getattr(event.phase, "value", event.phase))
        elif isinstance(event, events.ScenarioFinished):
            recorder = event.recorder
            self.requests += len(recorder.interactions)
            for case_id, checks in recorder.checks.items():
                if case_id in self.seen:  # shrinking replays a case: count it once
                    continue
                if len(self.seen) < MAX_SEEN:
                    self.seen.add(case_id)
                if any(check.status == Status.FAILURE for check in checks):
                    self.failed += 1

    def _write(self) -> None:
        self.written_at = time.monotonic()
        line = json.dumps({"requests": self.requests, "failed": self.failed,
                           "operation": self.operation[:200], "phase": self.phase[:40]})
        with open(self.path, "a", encoding="utf-8") as progress:
            progress.write(line + "\n")


if os.environ.get(PROGRESS_ENV):
    handler()(ProgressFile)
