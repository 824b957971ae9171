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
from tests.switch_runs import SCENARIOS_FOR, results_of, switch_param, switch_report

pytestmark = pytest.mark.integration

BY_ID = {s.id: s for s in load_all()}
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
    assert {i for ids in SCENARIOS_FOR.values() for i in ids} <= set(BY_ID)


@pytest.mark.parametrize("defect", [switch_param(d) for d in sorted(EXPECTED)])
def test_defect_fails_exactly_its_check(tmp_path_factory: pytest.TempPathFactory,
                                        defect: str) -> None:
    # The detection matrix's run of this switch (tests/switch_runs.py): the scenarios that
    # exercise it plus the fault-free core, chosen in the quick run's config.
    report = switch_report(defect, tmp_path_factory)
    results = {check_id: Status(r["status"]) for check_id, r in results_of(report, "scenario").items()}
    assert failing(results) == EXPECTED[defect], results
    steps = [e["title"] for r in results_of(report, "scenario").values() for e in r["evidence"]]
    assert not any(t.startswith(tuple(f"{i}/" for i in set(BY_ID) - set(SCENARIOS_FOR[defect])))
                   for t in steps), "the run drove only the scenarios its config chose"
