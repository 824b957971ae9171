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

# The socket handling is tests/hostile/servers.py's (imported once _ROOT is on the path).
from tests.hostile.servers import Listener
from tests.hostile.servers import read_request as _read_request

Behaviour = Callable[[socket.socket, threading.Event], None]


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


class LoopbackServer(Listener):
    """One behaviour on 127.0.0.1, OS-chosen port, a thread per connection (tests/hostile's
    ``Listener``); the behaviour reads the request itself and gets the stop event."""

    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        super().__init__()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def handle(self, conn: socket.socket) -> None:
        self.behaviour(conn, self.stopped)


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
    from popcert_npdb.launcher import MockNPDB

    state_dir: Path = tmp_path_factory.mktemp("npdb") / "state"
    with MockNPDB(state_dir, population=1000, seed=6) as npdb:
        yield npdb
