"""Real processes in tests: wait on a condition with a bound, see which pids still run, and kill
whatever a test started, so a failing test leaks nothing (tests/unit/test_processes.py and
tests/integration/test_interrupted_run.py)."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterable
from typing import TypeVar

import psutil

T = TypeVar("T")


def wait_for(condition: Callable[[], T], limit_s: float = 30.0) -> T:
    """The first truthy value of ``condition()`` within ``limit_s``, else its value at the end."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    return condition()


def running(pid: int) -> bool:
    """Alive and not a zombie."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def still_running(pids: Iterable[int]) -> list[int]:
    return [pid for pid in pids if running(pid)]


def descendants_named(pid: int, word: str) -> list[int]:
    """Descendants of ``pid`` with ``word`` in a part of their command line."""
    try:
        tree = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    found = []
    for process in tree:
        try:
            if any(word in part for part in process.cmdline()):
                found.append(process.pid)
        except psutil.Error:
            continue
    return found


def kill_all(pids: Iterable[int]) -> None:
    """SIGKILL each pid that is still there."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
