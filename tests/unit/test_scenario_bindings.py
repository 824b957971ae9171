"""Shipped scenarios resolve to real synthetic people and to bodies the connection spec accepts."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
import yaml

from harness.suites.conformance.spec import SPEC_PATH
from harness.suites.scenario.model import load_all
from harness.suites.scenario.runner import PopulationBinder, resolve
from popcert_npdb.population import Population


@pytest.fixture(scope="module")
def binder() -> PopulationBinder:
    return PopulationBinder(Population(seed=6, size=100_000), rng_seed=0)


@pytest.fixture(scope="module")
def submission_schema() -> dict[str, Any]:
    spec = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
    return {"$ref": "#/components/schemas/DossierCreate", "components": spec["components"]}


@pytest.mark.parametrize("scenario", load_all(), ids=lambda s: s.id)
def test_every_step_is_a_valid_submission_about_real_people(
        scenario: Any, binder: PopulationBinder, submission_schema: dict[str, Any]) -> None:
    population = binder.population
    bindings = binder.bindings(scenario)
    for step in scenario.steps:
        body = {"procedure_code": step.procedure_code,
                "applicant": resolve(step.applicant, bindings),
                "details": resolve(step.details, bindings)}
        jsonschema.validate(body, submission_schema)
        # The applicant is a real citizen of the synthetic register, not a hard-coded id.
        assert population.by_personal_id(body["applicant"]["personal_id"]) is not None


def test_filters_draw_the_people_the_scenario_asks_for(binder: PopulationBinder) -> None:
    by_id = {s.id: s for s in load_all()}
    marriage = binder.bindings(by_id["marriage-registration"])
    assert marriage["groom"]["marital_status"] == "single"
    assert marriage["bride"]["gender"] == "female"
    assert marriage["married"]["spouse_id"]
    bundle = binder.bindings(by_id["bundle-birth-residence-insurance"])
    child = binder.population.by_personal_id(bundle["family"]["personal_id"])
    assert child is not None and child.age_on() <= 5
    assert bundle["family"]["mother"]["personal_id"] == child.mother_id


def test_an_unknown_draw_names_ids_the_register_does_not_hold(binder: PopulationBinder) -> None:
    first, second = binder.unknown(0), binder.unknown(1)
    for drawn in (first, second):
        pid, household = drawn["personal_id"], drawn["household_id"]
        assert len(pid) == 12 and pid.isdigit()  # the connection spec's PersonalId
        assert binder.population.by_personal_id(pid) is None
        assert household.startswith("HH") and len(household) == 14
        assert binder.population.household(household) is None
    assert first != second and binder.unknown(0) == first  # seeded: the same run, the same ids


class _RunAdmin:
    def __init__(self, run_id: str) -> None:
        self.run_id = run_id


def test_runs_sharing_a_mock_and_a_seed_draw_different_unknown_ids() -> None:
    # The NPDB's 404 records no owner: only the id tells whose step the call was.
    population = Population(seed=6, size=100_000)
    drawn = [PopulationBinder(population, rng_seed=0, admin=_RunAdmin(run_id)).unknown(0)  # type: ignore[arg-type]
             for run_id in ("run-a", "run-b")]
    assert drawn[0]["personal_id"] != drawn[1]["personal_id"]
    assert drawn[0]["household_id"] != drawn[1]["household_id"]


def test_an_audit_entry_about_nobody_belongs_to_the_step_naming_its_subject() -> None:
    from harness.suites.scenario.runner import _about_step

    people, named = {"080203334613"}, {"080203334613", "HH000000000001"}
    household_404 = {"path": "/npdb/v1/households/HH000005534099", "personal_ids": []}
    assert not _about_step(household_404, people, named)  # another run's unknown household
    assert _about_step({**household_404, "path": "/npdb/v1/households/HH000000000001"},
                       people, named)
    assert _about_step({"path": "/npdb/v1/citizens/080203334613", "personal_ids": ["080203334613"]},
                       people, named)
    assert not _about_step({"path": "/npdb/v1/citizens/1", "personal_ids": ["075321802928"]},
                           people, named)
    assert _about_step({"path": "/oauth/token", "personal_ids": []}, people, named)
