"""Shared fixtures: hostile HTTP servers on 127.0.0.1 (port 0), and a mock NPDB for integration runs.

A hostile SUT hangs, resets, speaks garbage, floods or redirects; these raw-socket servers do
exactly one of those per instance, count the connections they get, and are always stopped.
"""

from __future__ import annotations

import socket
import struct
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# So test modules can `from tests.conftest import hang, ...` however pytest is started.
_ROOT = str(Path(__file__).resolve().parents[1])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

Behaviour = Callable[[socket.socket, threading.Event], None]


def _read_request(conn: socket.socket) -> bytes:
    """Read up to the end of the request head (enough to answer; bodies are ignored)."""
    data = b""
    conn.settimeout(5)
    try:
        while b"\r\n\r\n" not in data and len(data) < 65536:
            chunk = conn.recv(4096)
            if not chunk:
                break
            data += chunk
    except OSError:
        pass
    return data


def hang(conn: socket.socket, stop: threading.Event) -> None:
    _read_request(conn)
    stop.wait(120)  # never answer; released when the fixture stops the server


def reset(conn: socket.socket, stop: threading.Event) -> None:
    _read_request(conn)
    # SO_LINGER with a zero timeout makes close() send RST instead of FIN.
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def garbage(conn: socket.socket, stop: threading.Event) -> None:
    _read_request(conn)
    conn.sendall(b"\x00\xff\xfeSSH-2.0-not-http \x1b[31m garbage \x00\r\n\r\n\x89PNG\r\n")


def huge(conn: socket.socket, stop: threading.Event) -> None:
    """A 512 MiB body, streamed until the client hangs up: the harness must stop reading."""
    _read_request(conn)
    size = 512 * 1024 * 1024
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                 + f"Content-Length: {size}\r\n\r\n".encode())
    chunk = b"A" * 65536
    try:
        for _ in range(size // len(chunk)):
            if stop.is_set():
                return
            conn.sendall(chunk)
    except OSError:
        return


def redirect_to(location: str) -> Behaviour:
    def behaviour(conn: socket.socket, stop: threading.Event) -> None:
        _read_request(conn)
        conn.sendall(b"HTTP/1.1 302 Found\r\nLocation: " + location.encode()
                     + b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    return behaviour


def respond(status: int, content_type: str, body: bytes) -> Behaviour:
    def behaviour(conn: socket.socket, stop: threading.Event) -> None:
        _read_request(conn)
        conn.sendall(f"HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\n"
                     f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
    return behaviour


class LoopbackServer:
    """One behaviour on 127.0.0.1, OS-chosen port, a thread per connection."""

    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.connections = 0
        self._stop = threading.Event()
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self._sock.settimeout(0.1)
        self.port = self._sock.getsockname()[1]
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            with self._lock:
                self.connections += 1
                self._conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            self.behaviour(conn, self._stop)
        except OSError:
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()
        with self._lock:
            for conn in self._conns:
                try:
                    conn.close()
                except OSError:
                    pass


@pytest.fixture
def loopback_server() -> Iterator[Callable[[Behaviour], LoopbackServer]]:
    """Factory: ``loopback_server(hang)`` starts a server; every one is stopped after the test."""
    started: list[LoopbackServer] = []

    def start(behaviour: Behaviour) -> LoopbackServer:
        server = LoopbackServer(behaviour)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def mock_npdb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """A small mock NPDB (subprocess, OS ports) that `popcert certify` joins via npdb.start: false."""
    from mocks.population_db.launcher import MockNPDB

    state_dir: Path = tmp_path_factory.mktemp("npdb") / "state"
    with MockNPDB(state_dir, population=1000, seed=6) as npdb:
        yield npdb
