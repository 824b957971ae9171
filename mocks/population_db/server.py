"""Run the mock NPDB: HTTPS data port (token service, JWKS, data API) + HTTP admin port.

Both servers share one uvloop event loop; ``ready.json`` is written once both listen, with the
real ports (always bind port 0 in tests: other servers run concurrently).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import ssl
from pathlib import Path
from typing import Any, Literal

import uvicorn

from mocks.population_db.admin_app import build_admin_app
from mocks.population_db.app import build_data_app
from mocks.population_db.audit import AuditLog
from mocks.population_db.clients import ensure_clients
from mocks.population_db.faults import FaultTable
from mocks.population_db.notifications import Delivery, Notifier
from mocks.population_db.pki import TestPKI
from mocks.population_db.population import Population
from mocks.population_db.state import DEFAULT_RATE_LIMIT_PER_S, MockState
from mocks.population_db.tls_protocol import TLSHttpToolsProtocol
from mocks.population_db.tokens import KeyStore, TokenVerifier

MtlsMode = Literal["off", "optional", "required"]
CERT_REQS = {"off": ssl.CERT_NONE, "optional": ssl.CERT_OPTIONAL, "required": ssl.CERT_REQUIRED}
SERVER_CERT_NAME = "npdb-server"


def build_state(state_dir: Path, population: int, seed: int, mtls: MtlsMode,
                rate_limit_per_s: float = DEFAULT_RATE_LIMIT_PER_S) -> MockState:
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

    notifier = Notifier(ca_path=str(pki.ca_path), on_attempt=audit_delivery)
    return MockState(state_dir=state_dir, population=Population(seed, population), pki=pki,
                     clients=clients, keys=keys, verifier=TokenVerifier(keys), audit=audit,
                     faults=FaultTable(seed), notifier=notifier, mtls=mtls,
                     default_rate_per_s=rate_limit_per_s)


async def _flush_audit(state: MockState) -> None:
    while True:
        await asyncio.sleep(0.25)
        # In a worker thread: sqlite releases the GIL while writing, the event loop keeps serving.
        await asyncio.to_thread(state.audit.flush)


async def serve_async(state_dir: Path, population: int = 1_000_000, seed: int = 6,
                      data_port: int = 0, admin_port: int = 0, mtls: MtlsMode = "optional",
                      ready_file: Path | None = None, host: str = "127.0.0.1",
                      rate_limit_per_s: float = DEFAULT_RATE_LIMIT_PER_S) -> None:
    state = build_state(state_dir, population, seed, mtls, rate_limit_per_s)
    # The population's templates are long-lived: keep them out of every GC pass under load.
    gc.collect()
    gc.freeze()
    # Per request, only the audit entry outlives the call (until the next flush, 0.25 s): with
    # the default threshold of 700 those entries alone trigger dozens of collections a second,
    # each promoting them towards full collections. Collect young objects less often.
    gc.set_threshold(20_000, 10, 10)
    server_cert = state.pki.issue(SERVER_CERT_NAME, kind="server")
    data_config = uvicorn.Config(
        build_data_app(state), host=host, port=data_port, http=TLSHttpToolsProtocol,
        loop="none", lifespan="off", access_log=False, log_level="warning",
        ssl_certfile=str(server_cert.cert_path), ssl_keyfile=str(server_cert.key_path),
        ssl_ca_certs=str(state.pki.ca_path), ssl_cert_reqs=CERT_REQS[mtls],
        timeout_keep_alive=30)
    # The admin port is plain HTTP and never leaves loopback, whatever --host says.
    admin_config = uvicorn.Config(build_admin_app(state), host="127.0.0.1", port=admin_port,
                                  loop="none", lifespan="off", access_log=False,
                                  log_level="warning", http="httptools")
    data_server, admin_server = uvicorn.Server(data_config), uvicorn.Server(admin_config)
    tasks = [asyncio.create_task(data_server.serve()), asyncio.create_task(admin_server.serve()),
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
    try:
        await asyncio.wait(tasks[:2], return_when=asyncio.FIRST_COMPLETED)
    finally:
        data_server.should_exit = admin_server.should_exit = True
        await asyncio.gather(*tasks[:2], return_exceptions=True)
        tasks[2].cancel()
        state.audit.close()


def serve(state_dir: Path | str, population: int = 1_000_000, seed: int = 6, data_port: int = 0,
          admin_port: int = 0, mtls: MtlsMode = "optional", ready_file: Path | str | None = None,
          rate_limit_per_s: float = DEFAULT_RATE_LIMIT_PER_S) -> None:
    """Blocking entry point (``popcert mock serve`` calls this)."""
    state_dir = Path(state_dir)
    ready = Path(ready_file) if ready_file else state_dir / "ready.json"
    try:
        import uvloop
        runner: Any = uvloop.run
    except ImportError:  # uvloop is an optimisation, not a requirement
        runner = asyncio.run
    runner(serve_async(state_dir, population, seed, data_port, admin_port, mtls, ready,
                       rate_limit_per_s=rate_limit_per_s))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m mocks.population_db")
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
    args = parser.parse_args(argv)
    serve(args.state_dir, args.population, args.seed, args.data_port, args.admin_port,
          args.mtls, args.ready_file, args.rate_limit)
