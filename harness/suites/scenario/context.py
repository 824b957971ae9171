"""What every SCN check receives (``ScenarioContext``) and its factory, which drives every
scenario once; a run that cannot start (no mock NPDB, a malformed scenario or purposes file)
stops the suite (SuiteUnavailable). The context is read-only.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from harness import resources
from harness.checks import SuiteUnavailable
from harness.errors import PopcertError
from harness.run_context import RunContext
from harness.suites.scenario.model import Scenario, load_all
from harness.suites.scenario.runner import PopulationBinder, ScenarioDriver, StepRun
from harness.sut.npdb_boundary import AdminAPI, CitizenRegister, NPDBHandle

PURPOSES_PATH = resources.data_path("specs", "npdb", "v1", "purposes.yaml")
UNAVAILABLE = "scenario suite could not start"


@dataclass(frozen=True)
class ScenarioContext:
    """The steps every scenario recorded (once, in the factory) and what each purpose may read."""

    runs: list[StepRun] = field(default_factory=list)
    allowed_fields: dict[str, frozenset[str]] = field(default_factory=dict)


def load_purposes(path: Path = PURPOSES_PATH) -> dict[str, frozenset[str]]:
    """purpose code -> the citizen fields its procedure may read at most (specs/npdb/v1/
    purposes.yaml): a ceiling; what a step needs is its ``expect.npdb.fields``."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    entries = raw.get("purposes", raw) if isinstance(raw, dict) else raw
    if isinstance(entries, dict):
        entries = [{"code": code, **(v or {})} for code, v in entries.items()]
    return {str(e["code"]): frozenset(str(f) for f in e.get("fields") or [])
            for e in entries if isinstance(e, dict) and "code" in e}


def mock_of(run: RunContext) -> NPDBHandle:
    """The run's mock NPDB: the suite draws its people and reads its audit log."""
    if run.npdb is None:
        raise SuiteUnavailable(f"{UNAVAILABLE}: the scenario suite needs the mock NPDB (npdb.start)")
    return run.npdb


def population_of(npdb: NPDBHandle) -> CitizenRegister:
    """The mock's synthetic population, rebuilt in process from the same seed and size."""
    return npdb.register()


def run_scenarios(run: RunContext, scenarios: list[Scenario]) -> list[StepRun]:
    """Drive ``scenarios`` against the configured SUT; used by the suite and by tests."""
    npdb = mock_of(run)
    portal = run.portal()
    token = portal.token(lifetime_s=3600)
    admin = run_admin(run, npdb)
    runs: list[StepRun] = []
    total = sum(len(scenario.steps) for scenario in scenarios)
    started: list[str] = []

    def step_started(label: str) -> None:
        started.append(label)
        run.live.phase_update("scenario", f"step {len(started)}/{total}: {label}",
                              done=len(started) - 1, total=total)

    with portal.http() as client:
        driver = ScenarioDriver(client, portal.api_url, token, admin,
                                PopulationBinder(population_of(npdb), run.seed, admin),
                                float(run.threshold("scenario", "poll_timeout_s", 20)),
                                on_step=step_started)
        for scenario in scenarios:
            runs += driver.run(scenario)
    return runs


def run_admin(run: RunContext, npdb: NPDBHandle) -> AdminAPI:
    """The mock's admin API in this run's namespace (its people, faults, audit window), told to
    trust the SUT's own server CA for the notifications it delivers."""
    if npdb.admin is None:
        raise SuiteUnavailable(f"{UNAVAILABLE}: the scenario suite drives the mock NPDB through "
                               "its admin API")
    admin = npdb.admin.for_run(run.run_id)
    ca_bundle = run.config.target.ca_bundle
    if ca_bundle is not None:
        with contextlib.suppress(Exception):  # deliveries then fail visibly in the delivery log
            admin.trust_ca(Path(ca_bundle))
    return admin


def fields_beyond_purpose(scenarios: list[Scenario], allowed: dict[str, frozenset[str]]
                          ) -> list[str]:
    """Steps declaring citizen fields their purpose never allows (a scenario's typo): each
    '<file>: steps.<n> (<id>): ...'."""
    found = []
    for scenario in scenarios:
        for index, step in enumerate(scenario.steps):
            ceiling = allowed.get(step.expect.npdb.purpose_code or step.procedure_code)
            extra = sorted(set(step.expect.npdb.fields) - (ceiling or frozenset()))
            if extra:
                found.append(f"{scenario.source}: steps.{index} ({step.id}): expect.npdb.fields "
                             f"{extra} are not in the purpose's list in purposes.yaml")
    return found


def chosen(scenarios: list[Scenario], ids: list[str]) -> list[Scenario]:
    """The scenarios the config's ``scenarios:`` names (every one when it names none), in the
    files' order; an id no file has is refused with the ids there are."""
    if not ids:
        return scenarios
    known = [scenario.id for scenario in scenarios]
    if unknown := sorted(set(ids) - set(known)):
        raise ValueError(f"scenarios: no scenario has the id(s) {', '.join(unknown)}; "
                         f"the ids are {', '.join(known)}")
    return [scenario for scenario in scenarios if scenario.id in ids]


def make_context(run: RunContext) -> Iterator[ScenarioContext]:
    """Run every scenario once; every check reads the recorded steps."""
    mock_of(run)
    try:
        scenarios = chosen(load_all(), run.config.scenarios)
        allowed = load_purposes()
    except (PopcertError, OSError, ValueError, KeyError) as cannot:
        raise SuiteUnavailable(f"{UNAVAILABLE}: {cannot}") from None
    if beyond := fields_beyond_purpose(scenarios, allowed):
        raise SuiteUnavailable(f"{UNAVAILABLE}: {beyond[0]}")
    yield ScenarioContext(run_scenarios(run, scenarios), allowed)
