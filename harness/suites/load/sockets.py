"""The total-deadline rule for geventhttpclient in the locust processes (harness/hostile/deadline).

A busy greenlet never yields, so the lane's ``gevent.Timeout`` cannot fire while it runs:
- a SUT flooding HelloRequest records keeps OpenSSL inside one C call (the handshake). A
  watchdog on a real OS thread (gevent's originals, not green threads) shuts the socket down at
  the deadline;
- a SUT streaming an endless chunked trailer keeps geventhttpclient's read loop busy (every
  ``recv`` finds data, nothing joins the body). Every ``recv`` refuses once the request's
  deadline (``CURRENT.at``, set per request by the locustfile) has passed, and a request
  past 16 reads pauses 1 ms every 16 (a real wait: ``sleep(0)`` does not advance gevent's
  clock), so the lane's timeout, the run-time limit and locust's stop still land in such a loop.
Either way the whole worker would otherwise stand still. Imported by load/locustfile.py only.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from harness.hostile.deadline import CURRENT, Watchdog, handshake_deadline

__all__ = ["CURRENT", "bound_gevent_sockets"]
BUSY_READS = 16  # a 1 MiB body in 64 KiB reads; more reads than this in one request yield
PAUSE_S = 0.001


def bound_gevent_sockets(deadline_s: Callable[[], float]) -> None:
    """Patch gevent's sockets once: a handshake gets ``deadline_s()`` seconds (or what is left
    of the request's deadline), and no read starts past the request's deadline."""
    import gevent.monkey
    import gevent.socket
    import gevent.ssl

    ssl_socket: Any = gevent.ssl.SSLSocket
    if getattr(ssl_socket.do_handshake, "_popcert_bounded", False):
        return
    start = gevent.monkey.get_original("_thread", "start_new_thread")
    lock = gevent.monkey.get_original("_thread", "allocate_lock")
    watchdog = Watchdog(start, lock, gevent.monkey.get_original("time", "sleep"))
    handshake = ssl_socket.do_handshake

    def do_handshake(self: Any, *args: Any, **kwargs: Any) -> Any:
        # As CPython bounds a blocking handshake: by the socket (connection) timeout, and never
        # past the request's deadline.
        timeout = self.gettimeout()
        at = time.monotonic() + (timeout if timeout is not None else deadline_s())
        if CURRENT.at is not None:
            at = min(at, CURRENT.at)
        with handshake_deadline(self, at, watchdog):
            return handshake(self, *args, **kwargs)

    do_handshake._popcert_bounded = True  # type: ignore[attr-defined]
    ssl_socket.do_handshake = do_handshake
    for cls in (gevent.socket.socket, ssl_socket):
        for name in ("recv", "recv_into"):
            setattr(cls, name, _before_deadline(getattr(cls, name), gevent.sleep))


def _before_deadline(read: Callable[..., Any], pause: Callable[[float], Any]
                     ) -> Callable[..., Any]:
    def bounded(self: Any, *args: Any, **kwargs: Any) -> Any:
        at = CURRENT.at
        if at is not None:
            if time.monotonic() >= at:
                raise TimeoutError("the request exceeded its total deadline")
            # Reads of this request (greenlet-local under gevent): a short body takes a few.
            reads = getattr(CURRENT, "reads", None)
            if reads is None or reads[0] != at:
                reads = CURRENT.reads = [at, 0]
            reads[1] += 1
            if reads[1] % BUSY_READS == 0:
                pause(PAUSE_S)  # a real wait: gevent's loop updates its clock and runs timers
        return read(self, *args, **kwargs)
    return bounded
