"""Live progress of a long phase (the fuzzing run, the scenarios, the load run, the TLS scan).

A suite tells the person waiting what it is doing through ``RunContext.live`` (a ``LiveStatus``);
the CLI draws it with rich (harness/runner.py), tests and library callers ignore it. A child
process (schemathesis, locust) reports through a file the parent reads with ``read_last_line``:
a bounded read of the file's end, so a child writing garbage or gigabytes costs popcert nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

from harness.untrusted import strip_control

# How often a phase polls its child for progress: often enough to look alive, cheap enough to
# cost nothing beside a fuzzer or a load generator.
POLL_S = 1.0
MAX_TEXT = 160  # characters of one progress text
TAIL_BYTES = 65_536  # of a progress file read per poll
MAX_LINE_BYTES = 4096


class LiveStatus:
    """Receives a phase's progress. Called from the suites' worker threads: cheap, never raises."""

    def phase_update(self, suite: str, text: str, *, done: int | None = None,
                     total: int | None = None) -> None:
        """``suite`` is at ``text`` (e.g. "120 requests, 3 failed, POST /dossiers"), ``done`` of
        ``total`` steps when it knows them."""


NO_LIVE_STATUS = LiveStatus()


def one_line(text: str) -> str:
    """A progress text as a terminal may show it: no control characters, one bounded line."""
    clean = strip_control(str(text), keep_newlines=False)
    return clean if len(clean) <= MAX_TEXT else clean[: MAX_TEXT - 1] + "…"


def read_last_line(path: Path) -> str | None:
    """The last complete line of ``path`` (at most MAX_LINE_BYTES), or None: reads only the
    file's last TAIL_BYTES, never follows a link, never raises for a missing or odd file."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    try:
        size = os.fstat(fd).st_size
        os.lseek(fd, max(0, size - TAIL_BYTES), os.SEEK_SET)
        data = os.read(fd, TAIL_BYTES)
    except OSError:
        return None
    finally:
        os.close(fd)
    complete = data[: data.rfind(b"\n")] if b"\n" in data else b""
    last = complete.rsplit(b"\n", 1)[-1]
    if not last or len(last) > MAX_LINE_BYTES:
        return None
    return last.decode("utf-8", "replace")
