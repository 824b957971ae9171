"""The conformance run's progress as the parent sees it: the schemathesis child appends JSON lines
to ``PROGRESS_FILE`` in its workdir (child_progress, loaded by guard when ``PROGRESS_ENV`` names
the file); the parent reads the last one every POLL_S while it waits, as untrusted input.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.live import POLL_S, one_line, read_last_line

PROGRESS_ENV = "POPCERT_CONF_PROGRESS"
PROGRESS_FILE = "progress.jsonl"


def progress_text(line: str | None) -> str | None:
    """``120 requests, 3 failed, POST /dossiers (fuzzing)`` from the child's last progress line;
    None for a line that is not one (the file is the child's: read it as untrusted)."""
    try:
        raw = json.loads(line or "")
        requests, failed = int(raw["requests"]), int(raw["failed"])
        operation, phase = str(raw.get("operation", "")), str(raw.get("phase", ""))
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
    text = f"{max(0, requests)} requests, {max(0, failed)} failed"
    text += f", {operation[:80]}" if operation else ""
    return one_line(text + (f" ({phase[:20]})" if phase else ""))


def wait_reporting(child: Any, progress: Path,
                   on_progress: Callable[[str], None] | None) -> int:
    """Wait for the child, passing its progress on every POLL_S."""
    while True:
        try:
            return int(child.wait(timeout=POLL_S))
        except subprocess.TimeoutExpired:
            text = progress_text(read_last_line(progress))
            if on_progress is not None and text is not None:
                on_progress(text)
