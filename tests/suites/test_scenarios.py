"""Scenario suite on the real mock NPDB + reference city system.

The compliant system passes every SCN- check over all shipped scenarios; each NPDB-behaviour
defect makes exactly its check fail over the scenarios that exercise it (kept small for time).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.checks import Status
from harness.suites.scenario_model import load_all
from harness.suites.scenarios import ScenarioContext, load_purposes, run_scenarios
from harness.checks import REGISTRY
from harness.config import config_from_dict
from harness.net import ScopeGuard
from harness.profiles import load_profile
from harness.suites.base import RunContext

pytestmark = pytest.mark.integration

# --- shared with test_scenarios.py / test_conformance.py (no tests/ package to import from) ---
SEED = 7


def launchers() -> tuple[Any, Any]:
    """The mock NPDB and city-system launchers; the tests skip until both exist."""
    mock = pytest.importorskip("mocks.population_db.launcher")
    city = pytest.importorskip("examples.city_system.launcher")
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
    return {c.id: c.function(context).status for c in REGISTRY.values() if c.suite == suite}


def failing(results: dict[str, Status]) -> set[str]:
    return {cid for cid, status in results.items() if status == Status.FAIL}


def with_system(tmp: Path, defects: frozenset[str], population: int = 100_000) -> Iterator[Any]:
    MockNPDB, CitySystem = launchers()
    with MockNPDB(tmp / "npdb", population=population, seed=6) as npdb:
        with CitySystem(npdb, tmp / "city", defects=defects) as city:
            yield npdb, city


BY_ID = {s.id: s for s in load_all()}
CORE = ("birth-registration", "marriage-registration")
FAULTS = ("faults-transient", "faults-rate-limit")

RATE = ("faults-rate-limit",)
# Each defect runs over the scenarios that exercise it plus the fault-free core (time budget);
# the compliant test runs everything.
DEFECTS = {
    "npdb.shared_credentials": ("SCN-OWN-CREDENTIALS", CORE + RATE),
    "npdb.missing_purpose_code": ("SCN-PURPOSE-CODE", CORE),
    "npdb.overfetch_fields": ("SCN-DATA-MINIMISATION", CORE),
    "npdb.redundant_calls": ("SCN-CALL-BUDGET", CORE),
    "scenario.wrong_outcome": ("SCN-OUTCOME", CORE),
    "npdb.no_retry": ("SCN-FAULT-RETRY", CORE + RATE),
    "npdb.loses_dossier_on_failure": ("SCN-FAULT-NO-LOSS", CORE + FAULTS),
    "npdb.ignores_retry_after": ("SCN-FAULT-RATE-LIMIT", CORE + RATE),
}


def scenario_results(tmp: Path, defects: frozenset[str], ids: tuple[str, ...]) -> tuple[Any, dict]:
    for npdb, city in with_system(tmp, defects):
        run = run_context(npdb, city, tmp)
        context = ScenarioContext(run_scenarios(run, [BY_ID[i] for i in ids]), load_purposes())
        return context, evaluate("scenario", context)
    raise AssertionError("unreachable")


def test_reference_system_passes_every_scenario_check(tmp_path: Path) -> None:
    context, results = scenario_results(tmp_path, frozenset(), tuple(BY_ID))
    assert [r.label for r in context.runs if r.error] == []
    assert failing(results) == set(), results
    assert set(results.values()) == {Status.PASS}, results
    # The suite really exercised the NPDB: every step made calls as city-system.
    assert all(run.npdb_calls() for run in context.runs)


@pytest.mark.parametrize("defect", sorted(DEFECTS))
def test_defect_fails_exactly_its_check(tmp_path: Path, defect: str) -> None:
    expected, ids = DEFECTS[defect]
    _, results = scenario_results(tmp_path, frozenset({defect}), ids)
    assert failing(results) == {expected}, results
