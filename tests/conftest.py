"""Shared fixtures: hostile HTTP servers on 127.0.0.1 (port 0), and a mock NPDB for integration runs.

A hostile SUT hangs, resets, speaks garbage, floods or redirects; these raw-socket servers do
exactly one of those per instance, count the connections they get, and are always stopped.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import struct
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

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


# --- how `make test` spreads the suite over workers (issue 22: measured with --durations) -------
# `make test` runs `pytest -n 4 --dist loadgroup`, every test in one run. The suite mostly waits
# on servers, fuzzers and poll timeouts (12.7 min of CPU in a 38 min -n 2 run), and a worker is
# handed the next test (or group) only when it is nearly free. Two rules keep that fast:
# - the longest files start first, so none of them ends the run alone (longest-first scheduling);
#   whole files move, in their own order, so a module's fixtures are still set up once per worker;
# - the tests of a module that use one of its module- or class-scoped fixtures form one group that
#   runs on one worker, so an expensive fixture (a built wheel, a compliant run) is built once,
#   not once per worker. Tests without such a fixture go wherever a worker is free.
# A file missing from SLOW_FIRST keeps its collection place after these. Nothing is left out.
SLOW_FIRST = (
    "tests/integration/test_wheel_install.py",      # builds a wheel, installs it, runs the demo
    "tests/integration/test_hostile_sut.py",        # one fixture runs every hostile SUT
    "tests/integration/test_detection_matrix.py",   # the rows order themselves longest first
    "tests/integration/test_runs_isolated.py",
    "tests/suites/test_conformance.py",
    "tests/suites/test_scenarios.py",
    "tests/integration/test_hostile_reports.py",
    "tests/suites/test_load.py",
    "tests/suites/test_auth.py",
    "tests/unit/test_conformance_runner.py",
    "tests/integration/test_mock_schemathesis.py",
    "tests/integration/test_interrupted_run.py",
)
# Long tests that go first within their file (the full certification of the reference system).
FIRST_IN_FILE = frozenset({"test_reference_system_is_certified_with_zero_failures"})
# Where the workers leave the groups for the controller's scheduler (set by the controller).
GROUPS_ENV = "POPCERT_TEST_GROUPS"


def _relative(item: pytest.Item) -> str:
    try:
        return item.path.resolve().relative_to(_ROOT).as_posix()
    except ValueError:
        return item.nodeid.split("::")[0]


def _uses_module_fixture(item: pytest.Item) -> bool:
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return False
    return any(defs and defs[-1].scope in ("module", "class") for defs in info.name2fixturedefs.values())


def _group(item: pytest.Item) -> str | None:
    marks = [m.args[0] if m.args else m.kwargs.get("name", "default")
             for m in item.iter_markers("xdist_group")]
    if marks:
        return "_".join(sorted(str(m) for m in marks))
    path = _relative(item)
    return path if _uses_module_fixture(item) else None


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    rank = {path: i for i, path in enumerate(SLOW_FIRST)}
    items.sort(key=lambda item: (rank.get(_relative(item), len(SLOW_FIRST)),
                                 item.name not in FIRST_IN_FILE))  # stable otherwise
    target = os.environ.get(GROUPS_ENV)
    if target and os.environ.get("PYTEST_XDIST_WORKER"):
        groups = {item.nodeid: group for item in items if (group := _group(item)) is not None}
        scratch = Path(f"{target}.{os.environ['PYTEST_XDIST_WORKER']}")
        scratch.write_text(json.dumps(groups), encoding="utf-8")
        scratch.replace(target)  # every worker collects the same tests: same content


def pytest_configure(config: pytest.Config) -> None:
    # On the controller of a `--dist loadgroup` run: a place for the workers to leave the groups.
    if getattr(config.option, "dist", "no") == "loadgroup" and not os.environ.get("PYTEST_XDIST_WORKER"):
        target = Path(tempfile.mkdtemp(prefix="popcert-groups-")) / "groups.json"
        os.environ[GROUPS_ENV] = str(target)
        config.add_cleanup(lambda: shutil.rmtree(target.parent, ignore_errors=True))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`--dist loadgroup`, grouped as above. xdist's own loadgroup puts the group into the test's
    node id, which pytest 9 no longer lets a plugin change, so every test ran alone; this
    scheduler reads the groups the workers wrote and otherwise schedules as loadgroup does."""
    if getattr(config.option, "dist", "no") != "loadgroup" or not os.environ.get(GROUPS_ENV):
        return None
    from xdist.scheduler import LoadScopeScheduling

    class GroupScheduling(LoadScopeScheduling):
        groups: dict[str, str] | None = None

        def _split_scope(self, nodeid: str) -> str:
            if self.groups is None:  # read once, after every worker has collected
                target = Path(os.environ[GROUPS_ENV])
                self.groups = json.loads(target.read_text(encoding="utf-8")) if target.exists() else {}
            return self.groups.get(nodeid, nodeid)

    return GroupScheduling(config, log)
