"""The lab the conformance and scenario suite tests share: a real mock NPDB and reference city
system on 127.0.0.1, a RunContext pointing at them, and helpers to evaluate a suite's checks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.checks import Status
from harness.config import config_from_dict
from harness.net import ScopeGuard
from harness.profiles import load_profile
from harness.registry import default_registry
from harness.run_context import RunContext

SEED = 7


def launchers() -> tuple[Any, Any]:
    """The mock NPDB and city-system launchers; the tests skip until both exist."""
    mock = pytest.importorskip("popcert_npdb.launcher")
    city = pytest.importorskip("popcert_city.launcher")
    return mock.MockNPDB, city.CitySystem


def run_context(npdb: Any, city: Any, tmp: Path, *, quick: bool = True) -> RunContext:
    portal = npdb.pki.issue("portal-conformance", kind="client")
    config = config_from_dict({
        "system": {"name": "Hệ thống một cửa (reference)", "organisation": "popcert tests",
                   "level": "province"},
        "target": {"base_url": city.base_url, "ca_bundle": str(city.ca_path),
                   "client_cert": str(portal.cert_path), "client_key": str(portal.key_path)},
        "npdb": {"start": False, "state_dir": str(npdb.state_dir)},
        "seed": SEED, "quick": quick}, tmp)
    workdir = tmp / "work"
    workdir.mkdir(parents=True, exist_ok=True)
    return RunContext(config=config, profile=load_profile("province"), run_dir=tmp,
                      scope=ScopeGuard(["127.0.0.1", "localhost"]), workdir=workdir, npdb=npdb,
                      quick=quick, seed=SEED)


def evaluate(suite: str, context: Any) -> dict[str, Status]:
    return {c.id: c.function(context).status for c in default_registry().for_suite(suite)}


def failing(results: dict[str, Status]) -> set[str]:
    return {cid for cid, status in results.items() if status == Status.FAIL}


def with_system(tmp: Path, defects: frozenset[str], population: int = 100_000) -> Iterator[Any]:
    MockNPDB, CitySystem = launchers()
    with (MockNPDB(tmp / "npdb", population=population, seed=6) as npdb,
          CitySystem(npdb, tmp / "city", defects=defects) as city):
        yield npdb, city
