"""Run the mock NPDB: HTTPS data port (token service, JWKS, data API) + HTTP admin port.

Both servers share one uvloop event loop; ``ready.json`` is written once both listen, with the
real ports (always bind port 0 in tests: other servers run concurrently).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import resource
import signal
import socket
import sqlite3
import ssl
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import uvicorn
from uvicorn.config import create_ssl_context

from popcert_npdb.admin_app import build_admin_app
from popcert_npdb.app import build_data_app
from popcert_npdb.audit import AuditLog
from popcert_npdb.clients import ensure_clients
from popcert_npdb.faults import FaultTable
from popcert_npdb.notifications import Delivery, Notifier
from popcert_npdb.pki import TestPKI
from popcert_npdb.population import Population
from popcert_npdb.runs import RunRegistry
from popcert_npdb.startup import BIND_ERROR
from popcert_npdb.state import DEFAULT_RATE_LIMIT_PER_S, MockState
from popcert_npdb.tls_protocol import (
    DEFAULT_IDLE_TIMEOUT_S,
    DEFAULT_MAX_PER_CLIENT,
    ConnectionGuard,
    protocol_class,
)
from popcert_npdb.tokens import KeyStore, TokenVerifier

MtlsMode = Literal["off", "optional", "required"]
CERT_REQS = {"off": ssl.CERT_NONE, "optional": ssl.CERT_OPTIONAL, "required": ssl.CERT_REQUIRED}
SERVER_CERT_NAME = "npdb-server"
# SIGTERM: idle connections are closed at once, requests in flight get this long, then are
# cancelled; the whole stop stays under 2 s (issue 24: an idle TLS keep-alive held it 30 s).
STOP_GRACE_S = 1.2


def build_state(state_dir: Path, population: int, seed: int, mtls: MtlsMode,
                rate_limit_per_s: float = DEFAULT_RATE_LIMIT_PER_S,
                trust_ca: list[Path] | None = None) -> MockState:
    state_dir.mkdir(parents=True, exist_ok=True)
    pki = TestPKI(state_dir).ensure()
    clients = ensure_clients(state_dir, pki)
    keys = KeyStore(state_dir)
    audit = AuditLog(state_dir / "audit.sqlite")

    def audit_delivery(delivery: Delivery, status: int | None, latency_ms: float) -> None:
        audit.record(client_id=delivery.client_id, method="POST", endpoint="notification",
                     path=delivery.callback_url, request_id=delivery.event_id,
                     personal_ids=[json.loads(delivery.body)["personal_id"]],
                     status=status or 0, latency_ms=latency_ms, auth_method="hmac",
                     fields_returned=[f"delivery:{delivery.status}"])

    notifier = Notifier(ca_path=str(pki.ca_path), on_attempt=audit_delivery, state_dir=state_dir)
    for ca in trust_ca or []:  # the SUT's own server CA, for notification deliveries
        try:
            notifier.trust(Path(ca).read_text(encoding="utf-8"))
        except (OSError, ValueError) as unusable:  # deliveries then fail visibly, per attempt
            print(f"mock NPDB: --trust-ca {ca}: {unusable}", file=sys.stderr, flush=True)
    people = Population(seed, population)
    return MockState(state_dir=state_dir, population=people, pki=pki,
                     clients=clients, keys=keys, verifier=TokenVerifier(keys), audit=audit,
                     faults=FaultTable(seed), notifier=notifier, mtls=mtls,
                     runs=RunRegistry(people), default_rate_per_s=rate_limit_per_s)


def _raise_fd_limit() -> int:
    """As many open files as the hard limit allows: each connection is one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    return soft if soft != resource.RLIM_INFINITY else 65_536


async def _flush_audit(state: MockState) -> None:
    while True:
        await asyncio.sleep(0.25)
        # In a worker thread: sqlite releases the GIL while writing, the event loop keeps serving.
        try:
            await asyncio.to_thread(state.audit.flush)
        except (OSError, sqlite3.Error):
            pass  # disk full: counted in state.audit.outage (/admin/health); retried next turn


def listen_socket(host: str, port: int, role: str) -> socket.socket:
    """A bound socket for uvicorn (which listens on it), or SystemExit with one line naming the
    port: an asked-for port that is taken must not become a random one (issue 24)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as taken:
        sock.close()
        raise SystemExit(f"{BIND_ERROR} {host}:{port} ({role} port): {taken.strerror}") from None
    return sock


async def serve_async(state_dir: Path, population: int = 1_000_000, seed: int = 6,
                      data_port: int = 0, admin_port: int = 0, mtls: MtlsMode = "optional",
                      ready_file: Path | None = None, host: str = "127.0.0.1",
                      rate_limit_per_s: float = DEFAULT_RATE_LIMIT_PER_S,
                      trust_ca: list[Path] | None = None,
                      max_client_connections: int = DEFAULT_MAX_PER_CLIENT,
                      idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S) -> None:
    if data_port and data_port == admin_port:
        raise SystemExit(f"{BIND_ERROR} 127.0.0.1:{admin_port} (admin port): it is the data port too")
    # Bound before the state is built: a port that is taken fails in milliseconds.
    data_socket = listen_socket(host, data_port, "data")
    admin_socket = listen_socket("127.0.0.1", admin_port, "admin")
    state = build_state(state_dir, population, seed, mtls, rate_limit_per_s, trust_ca)
    # The population's templates are long-lived: keep them out of every GC pass under load.
    gc.collect()
    gc.freeze()
    # Per request, only the audit entry outlives the call (until the next flush, 0.25 s): with
    # the default threshold of 700 those entries alone trigger dozens of collections a second,
    # each promoting them towards full collections. Collect young objects less often.
    gc.set_threshold(20_000, 10, 10)
    server_cert = state.pki.issue(SERVER_CERT_NAME, kind="server")
    # TLS is done by the protocol (tls_protocol.py), not the listener: so every connection is
    # counted and capped from its accept, before and during its handshake.
    tls = create_ssl_context(server_cert.cert_path, server_cert.key_path, None,
                             ssl.PROTOCOL_TLS_SERVER, CERT_REQS[mtls], state.pki.ca_path, None)
    max_total = max(100, _raise_fd_limit() - 256)
    data_guard = ConnectionGuard(max_client_connections, max_total, idle_timeout_s)
    # uvicorn annotates timeout_graceful_shutdown as int, but hands it to asyncio.timeout, which
    # takes float seconds: the 1.2 s grace is honoured (the ignores below say only that).
    data_config = uvicorn.Config(
        build_data_app(state), host=host, port=data_port, http=protocol_class(tls, data_guard),
        loop="none", lifespan="off", access_log=False, log_level="warning",
        timeout_keep_alive=max(1, int(idle_timeout_s)), timeout_graceful_shutdown=STOP_GRACE_S)  # type: ignore[arg-type]
    # The admin port is plain HTTP and never leaves loopback, whatever --host says.
    admin_guard = ConnectionGuard(max_client_connections, max_total, idle_timeout_s)
    admin_config = uvicorn.Config(build_admin_app(state), host="127.0.0.1", port=admin_port,
                                  loop="none", lifespan="off", access_log=False,
                                  log_level="warning", http=protocol_class(None, admin_guard),
                                  timeout_keep_alive=max(1, int(idle_timeout_s)),
                                  timeout_graceful_shutdown=STOP_GRACE_S)  # type: ignore[arg-type]
    data_server, admin_server = _Server(data_config), _Server(admin_config)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        with contextlib.suppress(RuntimeError, ValueError):  # not the main thread: no signals
            loop.add_signal_handler(signum, _on_signal, signum, stopping)
    tasks = [asyncio.create_task(data_server.serve(sockets=[data_socket])),
             asyncio.create_task(admin_server.serve(sockets=[admin_socket])),
             asyncio.create_task(_flush_audit(state))]
    while not (data_server.started and admin_server.started):
        if any(t.done() for t in tasks[:2]):
            for t in tasks:
                t.cancel()
            raise SystemExit("mock NPDB failed to start (port in use?)")
        await asyncio.sleep(0.02)
    data_bound = data_server.servers[0].sockets[0].getsockname()[1]
    admin_bound = admin_server.servers[0].sockets[0].getsockname()[1]
    data_url = f"https://127.0.0.1:{data_bound}"
    ready = {"data_url": data_url, "admin_url": f"http://127.0.0.1:{admin_bound}",
             "token_url": f"{data_url}/oauth2/token", "jwks_url": f"{data_url}/.well-known/jwks.json",
             "issuer": state.issuer, "pid": os.getpid()}
    if ready_file is not None:
        tmp = ready_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(ready))
        tmp.replace(ready_file)  # atomic: the launcher never reads half a file
    print(json.dumps(ready), flush=True)
    stop_wait = asyncio.create_task(stopping.wait())
    try:
        await asyncio.wait([*tasks[:2], stop_wait], return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop_wait.cancel()
        _log_stop(data_server, admin_server, state)
        data_server.should_exit = admin_server.should_exit = True
        await asyncio.gather(*tasks[:2], return_exceptions=True)
        tasks[2].cancel()
        state.audit.close()


class _Server(uvicorn.Server):
    """Two servers share one loop: serve_async handles the signals for both (uvicorn's own
    handler would re-raise SIGTERM once a server stopped, killing the process before the audit
    log is closed)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _on_signal(signum: int, stopping: asyncio.Event) -> None:
    print(f"mock NPDB: {signal.Signals(signum).name} received, stopping", file=sys.stderr,
          flush=True)
    stopping.set()


def _log_stop(data_server: uvicorn.Server, admin_server: uvicorn.Server, state: MockState) -> None:
    """Say what the stop waits for: requests in flight (at most STOP_GRACE_S, then cancelled)
    and notification deliveries (abandoned with the loop)."""
    busy = [f"{name} {request}" for name, server in (("data", data_server), ("admin", admin_server))
            for conn in list(server.server_state.connections)
            if (request := getattr(conn, "in_flight", lambda: "")())]
    deliveries = len(getattr(state.notifier, "_tasks", ()))
    if busy:
        print(f"mock NPDB: stopping: waiting up to {STOP_GRACE_S} s for {len(busy)} request(s) "
              f"in flight ({'; '.join(busy[:5])}{' ...' if len(busy) > 5 else ''}), then "
              "cancelling them", file=sys.stderr, flush=True)
    if deliveries:
        print(f"mock NPDB: stopping: {deliveries} notification delivery(ies) in progress are "
              "abandoned", file=sys.stderr, flush=True)


def serve(state_dir: Path | str, population: int = 1_000_000, seed: int = 6, data_port: int = 0,
          admin_port: int = 0, mtls: MtlsMode = "optional", ready_file: Path | str | None = None,
          rate_limit_per_s: float = DEFAULT_RATE_LIMIT_PER_S, trust_ca: list[Path] | None = None,
          max_client_connections: int = DEFAULT_MAX_PER_CLIENT,
          idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S) -> None:
    """Blocking entry point (``popcert mock serve`` calls this)."""
    state_dir = Path(state_dir)
    ready = Path(ready_file) if ready_file else state_dir / "ready.json"
    try:
        import uvloop
        runner: Any = uvloop.run
    except ImportError:  # uvloop is an optimisation, not a requirement
        runner = asyncio.run
    runner(serve_async(state_dir, population, seed, data_port, admin_port, mtls, ready,
                       rate_limit_per_s=rate_limit_per_s, trust_ca=trust_ca,
                       max_client_connections=max_client_connections,
                       idle_timeout_s=idle_timeout_s))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m popcert_npdb")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("serve", help="run the mock NPDB")
    run.add_argument("--state-dir", type=Path, required=True)
    run.add_argument("--population", type=int, default=1_000_000)
    run.add_argument("--seed", type=int, default=6)
    run.add_argument("--data-port", type=int, default=0)
    run.add_argument("--admin-port", type=int, default=0)
    run.add_argument("--mtls", choices=list(CERT_REQS), default="optional")
    run.add_argument("--ready-file", type=Path, default=None)
    run.add_argument("--rate-limit", type=float, default=DEFAULT_RATE_LIMIT_PER_S,
                     help="requests per second per client before 429")
    run.add_argument("--trust-ca", type=Path, action="append", default=[],
                     help="also trust this CA (PEM) when delivering notifications: the SUT's "
                          "server CA, e.g. the run config's target.ca_bundle (repeatable)")
    run.add_argument("--max-client-connections", type=int, default=DEFAULT_MAX_PER_CLIENT,
                     help="open connections per client address; at the cap the oldest idle "
                          "one is closed")
    run.add_argument("--idle-timeout", type=float, default=DEFAULT_IDLE_TIMEOUT_S,
                     help="seconds a connection may stay in its TLS handshake, wait for its "
                          "first request or idle between requests")
    args = parser.parse_args(argv)
    serve(args.state_dir, args.population, args.seed, args.data_port, args.admin_port,
          args.mtls, args.ready_file, args.rate_limit, args.trust_ca,
          args.max_client_connections, args.idle_timeout)
