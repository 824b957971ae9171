"""Scenario suite on the real mock NPDB + reference city system.

The compliant system passes every SCN- check over all shipped scenarios; each NPDB-behaviour
defect makes exactly its check fail over the scenarios that exercise it (kept small for time).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.checks import Status
from harness.registry import default_registry
from harness.suites.scenario.context import ScenarioContext, load_purposes, run_scenarios
from harness.suites.scenario.model import load_all
from tests.suites.lab import evaluate, failing, run_context, with_system

pytestmark = pytest.mark.integration

BY_ID = {s.id: s for s in load_all()}
CORE = ("birth-registration", "marriage-registration")
FAULTS = ("faults-transient", "faults-rate-limit")

RATE = ("faults-rate-limit",)
# Each defect runs over the scenarios that exercise it plus the fault-free core (time budget);
# the compliant test runs everything.
SCENARIOS_FOR = {
    "npdb.shared_credentials": CORE + RATE,
    "npdb.missing_purpose_code": CORE,
    "npdb.overfetch_fields": CORE,
    "npdb.overfetch_purpose_fields": CORE,
    "npdb.request_id_not_uuid": CORE,
    "npdb.redundant_calls": CORE,
    "scenario.wrong_outcome": CORE,
    "scenario.completed_without_outcome": CORE,
    "scenario.not_found_approved": ("death-registration", "permanent-residence"),
    "npdb.no_retry": CORE + RATE,
    "npdb.loses_dossier_on_failure": CORE + FAULTS,
    "npdb.ignores_retry_after": CORE + RATE,
}
# defect switch -> the checks it must fail, as the checks declare it.
EXPECTED = {d: {c.id for c in default_registry().for_suite("scenario") if d in c.defects}
            for c in default_registry().for_suite("scenario") for d in c.defects}


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


def test_every_defect_has_its_scenarios() -> None:
    assert set(SCENARIOS_FOR) == set(EXPECTED)


@pytest.mark.parametrize("defect", sorted(EXPECTED))
def test_defect_fails_exactly_its_check(tmp_path: Path, defect: str) -> None:
    _, results = scenario_results(tmp_path, frozenset({defect}), SCENARIOS_FOR[defect])
    assert failing(results) == EXPECTED[defect], results
