"""Every child process popcert starts, and the guarantee that none outlives popcert.

``spawn`` starts a child in a session (process group) of its own, with a parent-death signal, an
optional address-space cap and an optional wall-clock deadline after which its whole group is
killed. A registry of live children lets the engine stop them on interrupt and ``atexit`` stop them
on any exit; ``exit_on_signals`` (the CLI) also makes popcert a child subreaper, so a grandchild
that detached itself is still found and killed. Linux only (prctl); elsewhere it degrades to
process groups and the registry.
"""

from __future__ import annotations

import atexit
import ctypes
import ctypes.util
import itertools
import os
import queue
import resource
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

import psutil

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
# SIGTERM first (the mock flushes its audit log, locust writes its CSVs), SIGKILL after this.
STOP_GRACE_S = 3.0
EXIT_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)

_File = int | IO[Any] | None


def _load_prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        prctl: Callable[..., int] = libc.prctl
        return prctl
    except (OSError, AttributeError):
        return None


# Resolved before any fork: the child must not load libraries between fork and exec.
_PRCTL = _load_prctl()


class Child(subprocess.Popen):  # type: ignore[type-arg]
    """A ``Popen`` that is the leader of its own process group (``pgid == pid``), plus ``stop()``."""

    name: str = ""
    sequence: int = 0
    deadline: float | None = None  # time.monotonic() after which the group is killed
    timed_out: bool = False
    _timer: threading.Timer | None = None

    @property
    def pgid(self) -> int:
        return self.pid

    def stop(self, grace_s: float = STOP_GRACE_S) -> int | None:
        """SIGTERM the whole group and every descendant, SIGKILL what is left after ``grace_s``."""
        _stop_many([self], grace_s)
        return self.returncode

    def _deadline_passed(self) -> None:
        if self.poll() is None or _group_alive(self.pgid):
            self.timed_out = True
            self.stop()


_registry_lock = threading.Lock()
_registry: dict[int, Child] = {}
_sequence = itertools.count(1)
_last_sequence = 0
_secret_files: set[Path] = set()
_atexit_registered = False
_signalled: int | None = None
_tree_at_exit = False  # CLI mode: at exit end every descendant, registered or not


def spawn(argv: Sequence[str], *, name: str | None = None, cwd: str | Path | None = None,
          env: dict[str, str] | None = None, stdin: _File = subprocess.DEVNULL,
          stdout: _File = None, stderr: _File = None, deadline_s: float | None = None,
          memory_limit_bytes: int | None = None,
          preexec: Callable[[], None] | None = None, **popen_kwargs: Any) -> Child:
    """Start ``argv`` as a registered child that cannot outlive popcert.

    The child leads a new session (a terminal's Ctrl-C reaches popcert only, which then stops the
    child), gets SIGKILL when popcert dies (even by SIGKILL), and with ``deadline_s`` its whole
    group is stopped that many seconds after start. ``memory_limit_bytes`` caps its address space.
    Other keyword arguments go to ``subprocess.Popen`` (e.g. ``text=True``).
    """
    parent_pid = os.getpid()

    def in_child() -> None:  # pragma: no cover - runs between fork and exec
        if _PRCTL is not None:
            _PRCTL(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
            if os.getppid() != parent_pid:  # popcert died before prctl took effect
                os.kill(os.getpid(), signal.SIGKILL)
        if memory_limit_bytes is not None:
            resource.setrlimit(resource.RLIMIT_AS, (memory_limit_bytes, memory_limit_bytes))
        if preexec is not None:
            preexec()

    def start() -> Child:
        started = Child(list(argv), cwd=cwd, env=env, stdin=stdin, stdout=stdout, stderr=stderr,
                        start_new_session=True, preexec_fn=in_child, close_fds=True,
                        **popen_kwargs)
        started.name = name or Path(str(argv[0])).name
        # Registered by the spawner itself: a signal interrupting the caller's wait for the
        # answer cannot leave a child nobody knows about.
        _register(started)
        return started

    child = _SPAWNER.run(start)
    if deadline_s is not None:
        child.deadline = time.monotonic() + deadline_s
        child._timer = threading.Timer(deadline_s, child._deadline_passed)
        child._timer.daemon = True
        child._timer.name = f"popcert-deadline-{child.pid}"
        child._timer.start()
    return child


class _Spawner:
    """One long-lived thread forks every child.

    Linux sends the parent-death signal when the *thread* that forked the child ends, not the
    process: a child forked by a check's worker thread would die with that thread.
    """

    def __init__(self) -> None:
        self._requests: queue.Queue[tuple[Callable[[], Child], queue.Queue[Any]]] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def run(self, start: Callable[[], Child]) -> Child:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._serve, name="popcert-spawner",
                                                daemon=True)
                self._thread.start()
        answer: queue.Queue[Any] = queue.Queue(maxsize=1)
        self._requests.put((start, answer))
        result = answer.get()
        if isinstance(result, BaseException):
            raise result
        return result  # type: ignore[no-any-return]

    def _serve(self) -> None:
        while True:
            start, answer = self._requests.get()
            try:
                answer.put(start())
            except BaseException as failure:  # noqa: BLE001 - handed back to the caller
                answer.put(failure)


_SPAWNER = _Spawner()


def _register(child: Child) -> None:
    global _atexit_registered, _last_sequence
    children()  # prune finished ones, so an old group id is never signalled after pid reuse
    with _registry_lock:
        child.sequence = next(_sequence)
        _last_sequence = child.sequence
        _registry[child.sequence] = child
        if not _atexit_registered:
            atexit.register(_at_exit)
            _atexit_registered = True


def mark() -> int:
    """The sequence number of the newest child so far; ``stop_children(newer_than=mark())``."""
    return _last_sequence


def children(newer_than: int = 0) -> list[Child]:
    """Registered children whose leader or group may still be alive (finished ones are dropped)."""
    with _registry_lock:
        for sequence, child in list(_registry.items()):
            if child.poll() is not None and not _group_alive(child.pgid):
                _cancel(child)
                del _registry[sequence]
        return [c for s, c in sorted(_registry.items()) if s > newer_than]


def signal_children(sig: int = signal.SIGTERM) -> None:
    """Send ``sig`` to every registered group at once, without waiting (safe in a signal handler).

    Only groups whose leader has not been reaped: its pid, hence the group id, is still ours.
    """
    for child in list(_registry.values()):
        if child.returncode is None:
            _kill_group(child.pgid, sig)


def stop_children(*, newer_than: int = 0, grace_s: float = STOP_GRACE_S) -> int:
    """Stop every registered child spawned after ``newer_than`` (all by default); how many."""
    targets = children(newer_than)
    _stop_many(targets, grace_s)
    return len(targets)


def stop_process_tree(grace_s: float = STOP_GRACE_S) -> int:
    """Stop every descendant of this process, registered or not; how many were found."""
    try:
        descendants = psutil.Process().children(recursive=True)
    except psutil.Error:
        return 0
    _terminate([], descendants, grace_s)
    return len(descendants)


def remove_on_exit(path: Path) -> Path:
    """Delete ``path`` (e.g. a file holding bearer tokens) when popcert exits, however it exits."""
    global _atexit_registered
    with _registry_lock:
        _secret_files.add(Path(path))
        if not _atexit_registered:
            atexit.register(_at_exit)
            _atexit_registered = True
    return Path(path)


def remove_secret_files() -> None:
    for path in list(_secret_files):
        try:
            path.unlink(missing_ok=True)
        except OSError:
            continue
        _secret_files.discard(path)


def exit_on_signals(signals: Sequence[int] = EXIT_SIGNALS) -> None:
    """CLI mode: SIGTERM/SIGINT/SIGHUP stop the children and raise KeyboardInterrupt (so the run
    ends with an INCOMPLETE report); at exit the whole process tree is ended."""
    global _tree_at_exit, _atexit_registered
    if threading.current_thread() is not threading.main_thread():
        return
    if _PRCTL is not None:
        # Orphaned grandchildren are re-parented to popcert instead of init: the exit walk finds them.
        _PRCTL(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    _tree_at_exit = True
    with _registry_lock:
        if not _atexit_registered:
            atexit.register(_at_exit)
            _atexit_registered = True
    for sig in signals:
        signal.signal(sig, _on_exit_signal)


def _on_exit_signal(signum: int, frame: Any) -> None:
    global _signalled
    # Children lead their own sessions: neither a terminal's Ctrl-C nor a `kill` of popcert
    # reaches them, so popcert passes the signal on at once, before unwinding.
    signal_children(signal.SIGTERM)
    if _signalled is not None:
        return  # already unwinding: a second signal must not break the INCOMPLETE report
    _signalled = signum
    raise KeyboardInterrupt


def _at_exit() -> None:
    global _signalled
    _signalled = _signalled or signal.SIGTERM  # a signal now only passes on, never interrupts this
    try:
        stop_children()
        if _tree_at_exit:
            stop_process_tree()
    finally:
        remove_secret_files()


def _stop_many(targets: Sequence[Child], grace_s: float) -> None:
    for child in targets:
        _cancel(child)
    descendants: list[psutil.Process] = []
    for child in targets:
        if child.poll() is not None:
            continue  # reaped: its pid may belong to someone else now
        # Taken before any signal: once a leader dies its children are re-parented out of reach.
        try:
            descendants += psutil.Process(child.pid).children(recursive=True)
        except psutil.Error:
            pass
    _terminate(targets, descendants, grace_s)


def _terminate(targets: Sequence[Child], descendants: list[psutil.Process],
               grace_s: float) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for child in targets:
            _kill_group(child.pgid, sig)
        for process in descendants:
            try:
                process.send_signal(sig)
            except psutil.Error:
                pass
        deadline = time.monotonic() + (grace_s if sig == signal.SIGTERM else 10.0)
        while time.monotonic() < deadline:
            leaders = [c for c in targets if c.poll() is None]
            groups = [c for c in targets if _group_alive(c.pgid)]
            descendants = [p for p in descendants if _alive(p)]
            if not (leaders or groups or descendants):
                return
            time.sleep(0.05)


def _alive(process: psutil.Process) -> bool:
    try:
        # A zombie is dead; it is not reaped here, its Popen (another thread's wait) owns that.
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _group_alive(pgid: int) -> bool:
    """Whether a process group still has a member that is not a zombie."""
    try:
        os.killpg(pgid, 0)  # zombies count here, hence the walk below
    except (ProcessLookupError, PermissionError):
        return False
    members = []
    for process in psutil.process_iter():
        try:
            if os.getpgid(process.pid) == pgid:
                members.append(process)
        except OSError:
            continue
    return any(_alive(p) for p in members)


def _kill_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _cancel(child: Child) -> None:
    if child._timer is not None:
        child._timer.cancel()


__all__ = [
    "STOP_GRACE_S",
    "Child",
    "children",
    "exit_on_signals",
    "mark",
    "remove_on_exit",
    "remove_secret_files",
    "signal_children",
    "spawn",
    "stop_children",
    "stop_process_tree",
]
