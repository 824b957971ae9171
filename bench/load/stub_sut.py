"""A tiny, fast stand-in for the connection API, for the load suite's tests and the benchmark.

Raw asyncio protocol (no framework) so it is never the bottleneck when measuring the load driver.
Switches mimic the reference system's load defects: ``post_delay_s`` (like ``load.slow_path``) and
``error_rate`` (like ``load.errors_under_load``, 503 on dossier calls). For the accuracy of the
load numbers (issue 16) it also has a *known* latency model on dossier calls:

- ``delay_s``: every dossier call is answered that long after it arrived;
- ``stall_s`` every ``stall_every_s``: a request arriving during the first ``stall_s`` of each
  period (wall clock, from ``epoch``) waits for the stall to end; ``true_latency_s(t)`` is what a
  request intended for wall-clock time ``t`` should measure;
- ``capacity_rps``: dossier calls are served one every 1/C s in arrival order (the rest queue),
  so the stub delivers exactly C req/s.

Runs in a background thread:

    with StubSUT(post_delay_s=0.4) as sut: ... sut.base_url ...
"""

from __future__ import annotations

import asyncio
import json
import random
import ssl
import threading
import time
import uuid
from typing import Self

_REASONS = {200: "OK", 201: "Created", 404: "Not Found", 503: "Service Unavailable"}


def _response(status: int, body: bytes, keep_alive: bool = True) -> bytes:
    head = (f"HTTP/1.1 {status} {_REASONS.get(status, 'OK')}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            f"Connection: {'keep-alive' if keep_alive else 'close'}\r\n\r\n")
    return head.encode("ascii") + body


_OK = _response(200, b'{"status":"ok","npdb":"up"}')
_UNAVAILABLE = _response(503, b'{"error":"unavailable","message":"try later","request_id":"'
                         b'00000000-0000-4000-8000-000000000000"}')


class _Connection(asyncio.Protocol):
    def __init__(self, sut: StubSUT) -> None:
        self.sut = sut
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].decode("latin-1")
            length = 0
            for line in head.split("\r\n")[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip() or 0)
            if len(self.buffer) < end + 4 + length:
                return
            self.buffer = self.buffer[end + 4 + length:]
            method, _, rest = head.partition(" ")
            self._answer(method, rest.partition(" ")[0])

    def _answer(self, method: str, target: str) -> None:
        sut = self.sut
        sut.requests += 1
        if not target.startswith("/connection/v1/dossiers"):
            self._send(_OK)
            return
        wait = sut.wait_s()
        if wait > 0:
            loop = asyncio.get_running_loop()
            loop.call_later(wait, self._reply, method, target, loop.time() + wait)
            return
        self._reply(method, target)

    def _reply(self, method: str, target: str, due: float | None = None) -> None:
        sut = self.sut
        if due is not None:
            # How much later than its model the stub answers (a busy machine wakes it late).
            sut.late_s_total += max(0.0, asyncio.get_running_loop().time() - due)
            sut.late_count += 1
        if sut.error_rate and sut.rng.random() < sut.error_rate:
            self._send(_UNAVAILABLE)
            return
        if method == "POST":
            dossier = json.dumps({"dossier_id": str(uuid.uuid4()), "status": "received"}).encode()
            reply = _response(201, dossier)
            if sut.post_delay_s:
                # Replies stay in order on a keep-alive connection because each user sends one at a time.
                asyncio.get_running_loop().call_later(sut.post_delay_s, self._send, reply)
                return
            self._send(reply)
        elif "?" in target or target.rstrip("/").endswith("/dossiers"):
            self._send(_response(200, b'{"items":[],"count":0}'))
        else:
            self._send(_response(200, b'{"dossier_id":"x","status":"processing"}'))

    def _send(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)


class StubSUT:
    """Serves on 127.0.0.1 with an OS-chosen port, in a daemon thread, until ``stop()``."""

    def __init__(self, *, post_delay_s: float = 0.0, error_rate: float = 0.0,
                 ssl_context: ssl.SSLContext | None = None, seed: int = 6,
                 delay_s: float = 0.0, stall_s: float = 0.0, stall_every_s: float = 10.0,
                 capacity_rps: float = 0.0) -> None:
        self.delay_s = delay_s
        self.stall_s = stall_s
        self.stall_every_s = stall_every_s
        self.capacity_rps = capacity_rps
        self.epoch = time.time()
        self._next_free = 0.0  # capacity: monotonic time the server is free again
        self.late_s_total = 0.0
        self.late_count = 0
        self.post_delay_s = post_delay_s
        self.error_rate = error_rate
        self.ssl_context = ssl_context
        self.rng = random.Random(seed)
        self.requests = 0
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="stub-sut", daemon=True)

    def stall_wait_s(self, wall: float) -> float:
        """How long a request arriving at wall-clock ``wall`` waits for the stall to end."""
        if not self.stall_s:
            return 0.0
        phase = (wall - self.epoch) % self.stall_every_s
        return self.stall_s - phase if phase < self.stall_s else 0.0

    def true_latency_s(self, wall: float) -> float:
        """The latency of a dossier call intended for ``wall`` on an unsaturated stub."""
        return self.stall_wait_s(wall) + self.delay_s

    @property
    def mean_late_ms(self) -> float:
        return self.late_s_total / self.late_count * 1000 if self.late_count else 0.0

    def wait_s(self) -> float:
        """Seconds until the dossier call arriving now is answered (runs in the loop thread)."""
        wait = self.stall_wait_s(time.time()) + self.delay_s
        if self.capacity_rps:
            now = time.monotonic()
            self._next_free = max(now, self._next_free) + 1.0 / self.capacity_rps
            wait += self._next_free - now
        return wait

    @property
    def base_url(self) -> str:
        scheme = "https" if self.ssl_context else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def start() -> None:
            self._server = await self._loop.create_server(
                lambda: _Connection(self), "127.0.0.1", 0, ssl=self.ssl_context, backlog=1024)
            self.port = self._server.sockets[0].getsockname()[1]
            self._ready.set()

        self._loop.run_until_complete(start())
        self._loop.run_forever()

    def start(self) -> Self:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("stub SUT did not start")
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._loop.call_soon_threadsafe(self._server.close)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_forever(port_file: str | None = None, **model: float) -> None:
    """``python bench/load/stub_sut.py`` serves until killed (a benchmark runs it as a process)."""
    with StubSUT(**model) as sut:  # type: ignore[arg-type]
        print(sut.base_url, flush=True)
        if port_file:
            with open(port_file, "w", encoding="utf-8") as out:
                out.write(sut.base_url)
        while True:
            time.sleep(3600)


if __name__ == "__main__":
    import sys
    # python bench/load/stub_sut.py URL_FILE [name=value ...], e.g. stall_s=1 delay_s=0.05
    serve_forever(sys.argv[1] if len(sys.argv) > 1 else None,
                  **{k: float(v) for k, v in (a.split("=", 1) for a in sys.argv[2:])})
