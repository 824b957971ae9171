"""Entry point of the reference city system process: ``python -m popcert_city.server --config F``.

Binds its own socket (port 0 allowed) so the real port is known before serving, subscribes to NPDB
notifications in the background, and writes the readiness file once uvicorn is listening.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import socket
import ssl
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette

from popcert_city import defects
from popcert_city.app import CityApi, build_app
from popcert_city.auth import TokenValidator
from popcert_city.config import CityConfig, load_config
from popcert_city.npdb_client import ClientCredentials, NpdbClient
from popcert_city.ratelimit import RateLimiter
from popcert_city.resilience import RetryPolicy
from popcert_city.store import DossierStore
from popcert_city.tls_context import server_context
from popcert_city.webhook import NotificationVerifier
from popcert_city.worker import Worker

log = logging.getLogger("city.server")
NOTIFICATION_EVENTS = ["birth", "death", "residence_change"]


def npdb_credentials(config: CityConfig) -> ClientCredentials:
    if defects.active("npdb.shared_credentials") and config.other_client_key_path:
        return ClientCredentials(config.other_client_id, config.other_client_key_path, config.other_client_cert_path)
    return ClientCredentials(config.client_id, config.client_key_path, config.client_cert_path)


def jwks_fetcher(ca_path: Path) -> Callable[[str], Any]:
    async def fetch(url: str) -> dict[str, Any]:
        async with httpx.AsyncClient(verify=ssl.create_default_context(cafile=str(ca_path)),
                                     timeout=5.0) as client:
            response = await client.get(url)
            response.raise_for_status()
            document: dict[str, Any] = response.json()
            return document
    return fetch


async def subscribe_forever(client: NpdbClient, store: DossierStore, callback_url: str) -> None:
    """Subscribe once; keep trying with backoff while the NPDB is unreachable."""
    delay = 1.0
    while True:
        try:
            answer = await client.subscribe(callback_url, NOTIFICATION_EVENTS)
            store.add_subscription(str(answer["subscription_id"]), str(answer["secret"]))
            log.info("subscribed to NPDB notifications at %s", callback_url)
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - NPDB down at start-up is normal; the dossier path does not depend on it
            log.warning("NPDB subscription failed (%s); retrying in %.0f s", exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)


def make_app(config: CityConfig, base_url: str) -> Starlette:
    store = DossierStore(config.db_path)
    client = NpdbClient(data_url=config.npdb_data_url, token_url=config.token_url,
                        credentials=npdb_credentials(config), ca_path=config.npdb_ca_path,
                        timeout_s=config.npdb_timeout_s, npdb_audience=config.npdb_audience,
                        policy=RetryPolicy(max_attempts=config.npdb_max_attempts))
    worker = Worker(store, client, config.worker_concurrency)
    validator = TokenValidator(issuer=config.issuer, audience=config.audience, jwks_url=config.jwks_url,
                               fetch_jwks=jwks_fetcher(config.npdb_ca_path))
    api = CityApi(store=store, validator=validator, limiter=RateLimiter(config.rate_per_s, config.rate_burst),
                  verifier=NotificationVerifier(store.subscription_secrets), worker=worker, npdb=client,
                  base_url=base_url)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        tasks = [asyncio.create_task(worker.run())]
        if config.subscribe_notifications:
            callback = f"{base_url}/connection/v1/notifications"
            tasks.append(asyncio.create_task(subscribe_forever(client, store, callback)))
        try:
            yield
        finally:
            await worker.stop()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await client.aclose()
            store.close()

    return build_app(api, lifespan)


async def serve(config: CityConfig) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # accepted sockets inherit it: without it small TLS writes meet delayed ACKs (~40 ms per request)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((config.host, config.port))
    port = sock.getsockname()[1]
    base_url = config.public_base_url or f"https://{config.host}:{port}"
    context = server_context(config.server_cert_path, config.server_key_path, mtls=config.mtls,
                             client_ca=config.client_ca_path, foreign_ca=config.foreign_ca_path)

    def context_factory(_config: uvicorn.Config, _default: Callable[[], ssl.SSLContext]) -> ssl.SSLContext:
        return context

    uv_config = uvicorn.Config(make_app(config, base_url), ssl_context_factory=context_factory,
                               log_level="warning", lifespan="on", access_log=False,
                               timeout_graceful_shutdown=3)
    server = uvicorn.Server(uv_config)
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started and not serving.done():
        await asyncio.sleep(0.05)
    if server.started:
        ready = {"base_url": base_url, "port": port, "pid": os.getpid(), "mtls": config.mtls,
                 "defects": sorted(defects.current())}
        tmp = config.ready_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(ready), encoding="utf-8")
        tmp.replace(config.ready_path)  # atomic: the launcher never reads half a file
    await serving


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="reference city system (popcert)")
    parser.add_argument("--config", type=Path, required=True)
    args = parser.parse_args(argv)
    config = load_config(args.config)
    defects.configure(list(config.defects) + sorted(defects.parse(os.environ.get(defects.ENV_VAR, ""))))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per NPDB call is too much under load
    try:
        import uvloop
    except ImportError:  # uvloop is an optimisation, not a requirement
        asyncio.run(serve(config))
    else:
        uvloop.run(serve(config))


if __name__ == "__main__":
    main()
