"""How the terminal shows a running phase: a rich spinner line per suite (what it is doing, how
long it has run) on an interactive terminal; plain lines, at most one every PLAIN_EVERY_S per
suite, when the output is not a terminal or runs in CI (``CI=true``), so logs stay readable.

Everything here writes to the run's console (stderr); stdout stays the verdict's (runner.py).
Updates come from the suites' worker threads: one lock orders them.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

from harness.live import LiveStatus, one_line

PLAIN_EVERY_S = 5.0
CI_VALUES = frozenset({"true", "1", "yes"})


def plain_output(console: Console) -> bool:
    """Plain lines instead of a live display: not a terminal, a dumb one, or CI."""
    in_ci = os.environ.get("CI", "").strip().lower() in CI_VALUES
    return in_ci or not console.is_terminal or console.is_dumb_terminal


class LiveView:
    """One line per running suite, updated in place or printed now and then."""

    def __init__(self, console: Console, *, plain: bool | None = None,
                 every_s: float = PLAIN_EVERY_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.console = console
        self.plain = plain_output(console) if plain is None else plain
        self.every_s = every_s
        self.clock = clock
        self._lock = threading.Lock()
        self._printed_at: dict[str, float] = {}
        # Only a running suite's updates show: a check thread abandoned at its time limit may
        # still report after its suite finished.
        self._active: set[str] = set()
        self._display: Progress | None = None
        self._tasks: dict[str, TaskID] = {}

    def start(self, suite: str, text: str) -> None:
        with self._lock:
            self._printed_at.pop(suite, None)
            self._active.add(suite)
            if self.plain:
                return
            if self._display is None:
                # stdout is not redirected: it carries only the verdict, after the suites.
                self._display = Progress(
                    SpinnerColumn(), TextColumn("{task.description}", markup=False),
                    TimeElapsedColumn(), console=self.console, transient=True,
                    redirect_stdout=False, redirect_stderr=False)
                self._display.start()
            self._tasks[suite] = self._display.add_task(f"{suite}: {one_line(text)}", total=None)

    def update(self, suite: str, text: str, *, done: int | None = None,
               total: int | None = None) -> None:
        line = f"{suite}: {one_line(text)}"
        with self._lock:
            if suite not in self._active:
                return
            if self.plain:
                now = self.clock()
                printed = self._printed_at.get(suite)
                if printed is not None and now - printed < self.every_s:
                    return
                self._printed_at[suite] = now
                self.console.print(f"  … {line}", markup=False, highlight=False, soft_wrap=True)
                return
            task = self._tasks.get(suite)
            if self._display is not None and task is not None:
                self._display.update(task, description=line, completed=done or 0, total=total)

    def finish(self, suite: str) -> None:
        with self._lock:
            self._printed_at.pop(suite, None)
            self._active.discard(suite)
            task = self._tasks.pop(suite, None)
            if self._display is None:
                return
            if task is not None:
                self._display.remove_task(task)
            if not self._tasks:
                self._display.stop()
                self._display = None


class ViewStatus(LiveStatus):
    """A ``LiveStatus`` drawing on a LiveView, for commands that run a suite's phase outside the
    engine (``popcert load capacity``)."""

    def __init__(self, view: LiveView) -> None:
        self.view = view

    def phase_update(self, suite: str, text: str, *, done: int | None = None,
                     total: int | None = None) -> None:
        self.view.update(suite, text, done=done, total=total)
