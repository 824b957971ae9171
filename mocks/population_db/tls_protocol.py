"""uvicorn HTTP protocol that does its own TLS handshake, guards connections and exposes the peer.

- ``scope["extensions"]["tls"] = {"client_cert_chain": [PEM...]}`` (the ASGI TLS extension shape;
  uvicorn 0.54 does not fill it) and the transport under ``"popcert.transport"`` so the fault
  injector can reset a connection.
- A server that holds: every accepted TCP connection is counted from the moment it is accepted
  (before TLS, which a listener's ``ssl=`` would hide from us), per client address and in total.
  At the cap the oldest *idle* connection (in its handshake, or between requests) is closed to
  make room, so idle connections can never lock real clients out. The handshake, the wait for a
  first request and the keep-alive wait are each bounded.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import OrderedDict
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

DEFAULT_MAX_PER_CLIENT = 1000
DEFAULT_IDLE_TIMEOUT_S = 10.0


class ConnectionGuard:
    """Live connections of one listener, oldest first, per client address and in total."""

    def __init__(self, max_per_client: int = DEFAULT_MAX_PER_CLIENT, max_total: int = 10_000,
                 idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S) -> None:
        self.max_per_client = max_per_client
        self.max_total = max_total
        self.idle_timeout_s = idle_timeout_s
        self.live: OrderedDict[GuardedHttpToolsProtocol, None] = OrderedDict()
        self.by_client: dict[str, OrderedDict[GuardedHttpToolsProtocol, None]] = {}
        self.evicted = 0

    def admit(self, conn: GuardedHttpToolsProtocol) -> bool:
        """Make room for ``conn``; False if none can be made (every other connection is busy)."""
        mine = self.by_client.setdefault(conn.client_address, OrderedDict())
        if len(mine) >= self.max_per_client and not self._evict_idle(mine):
            return False
        if len(self.live) >= self.max_total and not self._evict_idle(self.live):
            return False
        mine[conn] = None
        self.live[conn] = None
        return True

    def _evict_idle(self, pool: OrderedDict[GuardedHttpToolsProtocol, None]) -> bool:
        for old in pool:
            if not old.busy:
                self.release(old)
                old.abort()
                self.evicted += 1
                return True
        return False

    def release(self, conn: GuardedHttpToolsProtocol) -> None:
        self.live.pop(conn, None)
        mine = self.by_client.get(conn.client_address)
        if mine is not None:
            mine.pop(conn, None)
            if not mine:
                del self.by_client[conn.client_address]


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """Set ``tls`` and ``guard`` on a subclass (``protocol_class``): uvicorn builds the protocol."""

    tls: ssl.SSLContext | None = None
    guard: ConnectionGuard = ConnectionGuard()
    _peer_chain: list[str] | tuple[()] = ()
    _raw: Any = None
    _ready_made = False
    _first_request: asyncio.TimerHandle | None = None
    client_address = ""

    def __hash__(self) -> int:
        return id(self)

    def __eq__(self, other: object) -> bool:
        return self is other

    @property
    def busy(self) -> bool:
        """A request is in flight (a connection in its handshake or between requests is idle)."""
        return self._ready_made and self.cycle is not None and not self.cycle.response_complete

    def abort(self) -> None:
        if self._raw is not None:
            self._raw.abort()

    def shutdown(self) -> None:
        """The server stops. An idle connection (keep-alive wait) is aborted at once: a TLS close
        waits up to 30 s for the peer's close_notify, which an idle pooled client never sends
        (stops took 30 s). A request in flight finishes within the server's graceful timeout."""
        if not self.busy:
            self.abort()
            return
        super().shutdown()

    def in_flight(self) -> str:
        """``METHOD /path`` of the request this connection is answering ("" when idle)."""
        if not self.busy or self.cycle is None:
            return ""
        scope = self.cycle.scope
        return f"{scope.get('method', '?')} {str(scope.get('path', '?'))[:80]}"

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._raw = transport
        peer = transport.get_extra_info("peername")
        self.client_address = str(peer[0]) if peer else ""
        if not self.guard.admit(self):
            transport.abort()
            return
        if self.tls is None:
            self._ready(transport)
            return
        # What loop.start_tls() does, but synchronously: a ClientHello already in the socket
        # must reach the TLS layer, not the HTTP parser.
        loop = asyncio.get_running_loop()
        waiter = loop.create_future()
        tls_layer = _ssl_protocol_class(loop)(
            loop, self, self.tls, waiter, True, None, call_connection_made=False,
            ssl_handshake_timeout=self.guard.idle_timeout_s)
        transport.set_protocol(tls_layer)
        tls_layer.connection_made(transport)
        secured = tls_layer._get_app_transport()
        waiter.add_done_callback(lambda done: self._handshake_done(done, transport, secured))

    def _handshake_done(self, done: asyncio.Future[None], raw: Any, secured: Any) -> None:
        if done.cancelled() or done.exception() is not None or raw.is_closing():
            self.guard.release(self)
            raw.abort()
            return
        self._ready(secured)

    def _ready(self, transport: Any) -> None:
        super().connection_made(transport)
        self._ready_made = True
        self._peer_chain = []
        ssl_object: ssl.SSLObject | None = transport.get_extra_info("ssl_object")
        if ssl_object is not None:
            der = ssl_object.getpeercert(binary_form=True)
            if der:
                self._peer_chain = [ssl.DER_cert_to_PEM_cert(der)]
        # A connection that never sends a request is closed (keep-alive waits are uvicorn's).
        self._first_request = self.loop.call_later(self.guard.idle_timeout_s, self._idle_close)

    def _idle_close(self) -> None:
        if not self.busy and self.cycle is None and not self.transport.is_closing():
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.guard.release(self)
        if self._first_request is not None:
            self._first_request.cancel()
        if self._ready_made:
            super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._ready_made:
            super().data_received(data)

    def on_message_begin(self) -> None:
        if self._first_request is not None:
            self._first_request.cancel()
            self._first_request = None
        super().on_message_begin()
        extensions: dict[str, Any] = {"popcert.transport": self.transport}
        if self._peer_chain:
            extensions["tls"] = {"client_cert_chain": list(self._peer_chain)}
        self.scope["extensions"] = extensions


def _ssl_protocol_class(loop: asyncio.AbstractEventLoop) -> Any:
    try:
        import uvloop
        import uvloop.loop

        if isinstance(loop, uvloop.Loop):
            # uvloop's loop.pyi leaves out SSLProtocol, which its Cython module defines
            return uvloop.loop.SSLProtocol  # type: ignore[attr-defined]
    except ImportError:
        pass
    import asyncio.sslproto

    return asyncio.sslproto.SSLProtocol


def protocol_class(tls: ssl.SSLContext | None, guard: ConnectionGuard) -> type:
    """A protocol class for one listener (uvicorn instantiates it with its own arguments)."""
    return type("GuardedListenerProtocol", (GuardedHttpToolsProtocol,),
                {"tls": tls, "guard": guard})
