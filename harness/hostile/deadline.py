"""Total deadlines: one absolute time per request, and what is left of it for each socket step.

A server trickling a byte every few seconds never trips an idle timeout, so every socket operation
gets only what is left of the request's deadline (``remaining``). A TLS handshake is one C call:
a server flooding HelloRequest records keeps OpenSSL skipping them without ever returning to
Python, so no timeout can fire there. ``handshake_deadline`` arms a watchdog on another OS thread
(the ssl module releases the GIL inside the handshake) that shuts the socket down at the deadline.
"""

from __future__ import annotations

import _socket
import _thread
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


class _Current(threading.local):
    """The absolute time.monotonic() by which the current thread's request must be done."""

    at: float | None = None


CURRENT = _Current()


def remaining(timeout: float | None, expired: Callable[[str], BaseException] = TimeoutError,
              at: float | None = None) -> float | None:
    """The socket timeout one step may use: ``timeout`` cut to what is left of the deadline
    (``at``, else the thread's current one); raises ``expired`` once it has passed."""
    deadline = CURRENT.at if at is None else at
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise expired("the request exceeded its total deadline")
    return left if timeout is None else min(timeout, left)


class HandshakeTimeout(TimeoutError):
    """The watchdog shut the socket down: the TLS handshake outlived its deadline."""


class _Armed:
    """One watched handshake (a plain class: the children that import this skip dataclasses)."""

    __slots__ = ("at", "done", "fileno", "fired")

    def __init__(self, at: float, fileno: int) -> None:
        self.at = at
        self.fileno = fileno  # a dup of the socket's descriptor, owned by the watchdog until done
        self.fired = False
        self.done = False


class Watchdog:
    """One OS thread, alive while something is armed, that shuts down sockets past their time.

    The primitives are injectable: inside locust (gevent monkey-patched) the adapter passes the
    original ``_thread`` functions and ``time.sleep``, since a greenlet cannot run while the
    handshake holds the only thread in C.
    """

    def __init__(self, start_new_thread: Callable[..., Any] = _thread.start_new_thread,
                 allocate_lock: Callable[[], Any] = _thread.allocate_lock,
                 sleep: Callable[[float], None] = time.sleep, tick_s: float = 0.05) -> None:
        self._start = start_new_thread
        self._lock = allocate_lock()
        self._sleep = sleep
        self._tick_s = tick_s
        self._armed: list[_Armed] = []
        self._running = False

    def arm(self, sock: Any, at: float) -> _Armed:
        armed = _Armed(at, os.dup(sock.fileno()))
        with self._lock:
            self._armed.append(armed)
            start = not self._running
            self._running = True
        if start:
            self._start(self._watch, ())
        return armed

    def disarm(self, armed: _Armed) -> bool:
        """Stop watching; True when the watchdog already shut the socket down."""
        with self._lock:
            if not armed.done:
                armed.done = True
                self._armed.remove(armed)
                os.close(armed.fileno)
        return armed.fired

    def _watch(self) -> None:
        while True:
            self._sleep(self._tick_s)
            with self._lock:
                now = time.monotonic()
                for armed in [a for a in self._armed if a.at <= now]:
                    armed.fired = armed.done = True
                    self._armed.remove(armed)
                    _shutdown(armed.fileno)
                    os.close(armed.fileno)
                if not self._armed:
                    self._running = False
                    return


def _shutdown(fileno: int) -> None:
    # The C-level socket (never gevent's): safe from any thread, acts on the shared connection.
    shadow = _socket.socket(fileno=fileno)
    try:
        shadow.shutdown(_socket.SHUT_RDWR)
    except OSError:
        pass
    finally:
        shadow.detach()  # the descriptor is closed by the caller, once


WATCHDOG = Watchdog()


@contextmanager
def handshake_deadline(sock: Any, at: float, watchdog: Watchdog | None = None) -> Iterator[None]:
    """Run a TLS handshake on ``sock`` that ends by ``at`` (time.monotonic()) whatever the peer
    sends; past it the socket is shut down and ``HandshakeTimeout`` raised."""
    guard = watchdog or WATCHDOG
    if at <= time.monotonic():
        raise HandshakeTimeout("the TLS handshake had no time left before its deadline")
    armed = guard.arm(sock, at)
    try:
        yield
    except BaseException as failure:  # whatever the TLS stack made of the shut-down socket
        if guard.disarm(armed) and isinstance(failure, Exception):
            raise HandshakeTimeout("the TLS handshake did not complete before its deadline "
                                   "(the socket was shut down)") from failure
        raise
    if guard.disarm(armed):
        raise HandshakeTimeout("the TLS handshake did not complete before its deadline "
                               "(the socket was shut down)")
