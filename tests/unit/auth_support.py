"""Scaffolding the auth suite's unit tests share: a mock NPDB without a server, a run against a
SUT on 127.0.0.1, the suite's own context factory (from the registry) and a served handler.

Check functions are called directly on the context (not through the engine, which would turn a
crash into ``error``), so a test sees an exception a hostile SUT provokes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread

from harness.checks import CheckResult
from harness.config import REPO_ROOT, config_from_dict
from harness.net import ScopeGuard
from harness.profiles import load_profile
from harness.registry import default_registry
from harness.run_context import RunContext
from harness.suites.auth.context import AuthContext
from popcert_npdb.admin_client import AdminClient
from popcert_npdb.pki import TestPKI
from popcert_npdb.population import Population
from popcert_npdb.tokens import TokenMinter


class FakeNpdb:
    """What the auth suite needs of the mock NPDB, without starting it: keys and PKI on disk and
    no admin API (an ``NPDBHandle``)."""

    def __init__(self, state_dir: Path, seed: int = 0, population: int = 0) -> None:
        self.state_dir = state_dir
        self.seed = seed
        self.population = population
        self.pki = TestPKI(state_dir)
        self.admin: AdminClient | None = None
        self._minter = TokenMinter(state_dir)

    def minter(self) -> TokenMinter:
        return self._minter

    def register(self) -> Population:
        return Population(seed=self.seed, size=self.population)


def run_context(base_url: str, state_dir: Path, *, timeout_s: float = 2.0,
                npdb: FakeNpdb | None = None, name: str = "scripted") -> RunContext:
    """A district-level, quick run of the auth suite against ``base_url`` (127.0.0.1 only)."""
    config = config_from_dict({
        "system": {"name": name, "organisation": "tests", "level": "district"},
        "target": {"base_url": base_url, "timeout_s": timeout_s}, "suites": ["auth"],
        "output_dir": str(state_dir / "runs")}, REPO_ROOT)
    return RunContext(config, load_profile("district"), state_dir, ScopeGuard(["127.0.0.1"]),
                      workdir=state_dir, npdb=npdb, quick=True)


@contextmanager
def auth_context(run: RunContext) -> Iterator[AuthContext]:
    """The context the engine would give the AUTH checks, torn down afterwards."""
    suite = default_registry().suite("auth")
    assert suite is not None
    factory = suite.context(run)
    try:
        yield next(factory)
    finally:
        factory.close()


def run_checks(base_url: str, state_dir: Path, ids: Iterable[str] | None = None, *,
               timeout_s: float = 2.0, name: str = "scripted") -> dict[str, CheckResult]:
    """Every AUTH check (or those of ``ids``), in run order, against ``base_url``."""
    wanted = None if ids is None else set(ids)
    run = run_context(base_url, state_dir, timeout_s=timeout_s, npdb=FakeNpdb(state_dir),
                      name=name)
    with auth_context(run) as ctx:
        return {c.id: c.function(ctx) for c in default_registry().for_suite("auth")
                if wanted is None or c.id in wanted}


@contextmanager
def serve(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """``handler`` served on 127.0.0.1 (port 0) for the block; yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
