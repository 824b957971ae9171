"""Drive the SUT through procedure scenarios and record what the mock NPDB saw at each step.

For each step: draw people from the synthetic population, mark the audit log, inject the step's
faults, submit the dossier as the portal, poll its status until final (bounded), then read the
audit window. The checks in ``checks.py`` judge the recorded ``StepRun``s; nothing here decides.
"""

from __future__ import annotations

import contextlib
import dataclasses
import random
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from harness.net import Exchange, SafeClient
from harness.suites.scenario.model import (
    PLACEHOLDER,
    Fault,
    PopulationDraw,
    Scenario,
    Step,
)
from harness.sut.npdb_boundary import AdminAPI, CitizenRegister

FINAL_STATUSES = frozenset({"completed", "rejected"})
POLL_INTERVAL_S = 0.2
FAULT_FREE_POLL_S = 6.0
# Calls the SUT makes just after reporting a final status still belong to the step.
AUDIT_SETTLE_S = 0.3


@dataclass
class StatusSample:
    at_s: float  # seconds after the submission
    http_status: int | None
    status: str | None
    error: str | None = None


@dataclass
class StepRun:
    """Everything observed for one step; the evidence every SCN- check draws from."""

    scenario_id: str
    step: Step
    dossier_id: str | None = None
    submit: Exchange | None = None
    history: list[StatusSample] = field(default_factory=list)
    final_status: str | None = None
    final_body: Any = None
    listed: bool | None = None
    audit: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None  # the step could not run (setup, scope, mock unreachable)

    @property
    def label(self) -> str:
        return f"{self.scenario_id}/{self.step.id}"

    @property
    def faults(self) -> list[Fault]:
        return self.step.faults

    @property
    def purpose_code(self) -> str:
        return self.step.expect.npdb.purpose_code or self.step.procedure_code

    def npdb_calls(self) -> list[dict[str, Any]]:
        """Data-API calls (not the token endpoint, not subscriptions made at start-up)."""
        return [e for e in self.audit if str(e.get("path") or e.get("endpoint") or "")
                .startswith("/npdb/v1") and "/subscriptions" not in str(e.get("path") or "")]


class PopulationBinder:
    """Real people of the mock's synthetic population, for this run only.

    With the run's admin client (``AdminAPI.for_run``) the mock draws the people: nobody another
    run holds, nobody a change (a recorded death, a move) already altered, and claims them for
    this run, so concurrent and repeated runs against one mock never share a person. Their records
    are then read in process: the register (``NPDBHandle.register()``) is deterministic from
    (seed, size), so the harness sees the same citizens as the mock. Without an admin client the
    draw is in process.
    A binding is the citizen's record plus its relatives (father, mother, spouse), so a
    scenario can write ``${family.mother.personal_id}``.
    """

    def __init__(self, population: CitizenRegister, rng_seed: int,
                 admin: AdminAPI | None = None) -> None:
        self.population = population
        self.rng_seed = rng_seed
        self.admin = admin  # with the run id
        self._samples: dict[tuple[str, str], list[Any]] = {}

    def _draw(self, kind: str, n: int) -> list[Any]:
        if self.admin is None:
            return list(self.population.sample(kind, n, rng_seed=self.rng_seed))
        records = self.admin.sample(kind, n, self.rng_seed)
        citizens = [self.population.by_personal_id(str(r.get("personal_id", "")))
                    for r in records if isinstance(r, dict)]
        return [c for c in citizens if c is not None]

    def record(self, draw: PopulationDraw) -> dict[str, Any]:
        if draw.kind == "unknown":
            return self.unknown(draw.index)
        key = (draw.kind, repr(sorted(draw.where.items())) + repr(draw.max_age))
        if key not in self._samples:
            wanted = 60 if (draw.where or draw.max_age is not None) else 12
            sampled = self._draw(draw.kind, wanted * (5 if draw.max_age else 1))
            self._samples[key] = [c for c in sampled if _matches(c, draw)]
        samples = self._samples[key]
        if draw.index >= len(samples):
            raise LookupError(f"only {len(samples)} {draw.kind} citizens match {draw.where or ''}")
        return self.binding(samples[draw.index])

    def unknown(self, index: int) -> dict[str, Any]:
        """A personal ID and a household ID the register does not hold, so the NPDB answers 404
        for them: each of the register's own shape (a drawn adult's province, century and year
        digits with a serial nobody has; its household's block with a number no household has).
        ``index`` picks the index-th such pair of the seeded order. Runs sharing one mock (and a
        seed) draw different ids: the NPDB's 404s record no owner, so only the id tells whose
        step a call was."""
        base = self.population.sample("adult", 1, rng_seed=self.rng_seed)[0]
        run_id = (self.admin.run_id if self.admin is not None else None) or ""
        rng = random.Random(f"{self.rng_seed}/{run_id}/unknown")
        people: list[str] = []
        while len(people) <= index:
            candidate = f"{base.personal_id[:6]}{rng.randrange(1_000_000):06d}"
            if self.population.by_personal_id(candidate) is None and candidate not in people:
                people.append(candidate)
        households = [f"{base.household_id[:12]}{n:02d}" for n in range(99, -1, -1)]
        absent = [h for h in households if self.population.household(h) is None]
        rng.shuffle(absent)
        if len(absent) <= index:
            raise LookupError(f"no unknown household id #{index} near {base.household_id}")
        return {"personal_id": people[index], "household_id": absent[index]}

    def binding(self, citizen: Any, depth: int = 0) -> dict[str, Any]:
        record = dict(citizen.to_dict())
        record["child"] = dict(citizen.to_dict())  # the sampled child, for child_with_parents
        record.update(_address_parts(record.get("permanent_residence") or "", self.population))
        if depth == 0:
            for relative, field_name in (("father", "father_id"), ("mother", "mother_id"),
                                         ("spouse", "spouse_id")):
                other = self.population.by_personal_id(record.get(field_name) or "")
                if other is not None:
                    record[relative] = self.binding(other, depth + 1)
        return record

    def bindings(self, scenario: Scenario) -> dict[str, Any]:
        # The same (kind, filter, index) is the same person across a scenario's steps.
        return {name: self.record(draw) for name, draw in scenario.population.items()}


def _matches(citizen: Any, draw: PopulationDraw) -> bool:
    record = citizen.to_dict()
    if any(str(record.get(k)) != str(v) for k, v in draw.where.items()):
        return False
    # The SUT judges age on the day it processes the dossier, which may be after the register's
    # reference date: the person must be young enough on both.
    return draw.max_age is None or max(citizen.age_on(), citizen.age_on(date.today())) \
        <= draw.max_age


def _address_parts(address: str, register: CitizenRegister) -> dict[str, Any]:
    """Split the register's one-line address into the connection API's Address fields."""
    parts = [p.strip() for p in address.split(",")]
    province = parts[-1] if parts else ""
    code = register.province_code(province) or "001"
    return {"address": {"line": ", ".join(parts[:2]) or address or "-",
                        "ward": parts[2] if len(parts) > 3 else "-",
                        "district": province or "-", "province_code": code}}


def resolve(value: Any, bindings: dict[str, Any]) -> Any:
    """Fill ``${name.path}`` placeholders; a whole-string placeholder keeps the value's type."""
    if isinstance(value, str):
        whole = PLACEHOLDER.fullmatch(value)
        if whole:
            return lookup(bindings, whole.group(1))
        return PLACEHOLDER.sub(lambda m: str(lookup(bindings, m.group(1))), value)
    if isinstance(value, dict):
        return {k: resolve(v, bindings) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, bindings) for v in value]
    return value


def lookup(bindings: dict[str, Any], ref: str) -> Any:
    found: Any = bindings
    for part in ref.split("."):
        if isinstance(found, dict) and part in found:
            found = found[part]
        else:
            raise LookupError(f"${{{ref}}}: no {part!r} in the drawn record")
    return found


def as_dict(entry: Any) -> dict[str, Any]:
    if isinstance(entry, dict):
        return entry
    if hasattr(entry, "model_dump"):
        return dict(entry.model_dump())
    if dataclasses.is_dataclass(entry) and not isinstance(entry, type):
        return dataclasses.asdict(entry)
    return dict(vars(entry))


@dataclass
class ScenarioDriver:
    """Runs scenarios against one SUT with one portal identity."""

    client: SafeClient
    api_url: str  # e.g. https://127.0.0.1:8443/connection/v1
    token: str
    admin: AdminAPI  # with the run id (AdminAPI.for_run)
    binder: PopulationBinder
    poll_timeout_s: float = 20.0
    # Told each step's label before it runs (the run's live progress: step n/N).
    on_step: Callable[[str], None] | None = None

    def run(self, scenario: Scenario) -> list[StepRun]:
        runs: list[StepRun] = []
        try:
            bindings = self.binder.bindings(scenario)
        except (LookupError, ValueError) as cannot:
            return [StepRun(scenario.id, step, error=f"population sample failed: {cannot}")
                    for step in scenario.steps]
        previous: dict[str, Any] = {}
        for step in scenario.steps:
            bindings["previous"] = previous
            if self.on_step is not None:
                self.on_step(f"{scenario.id}/{step.id}")
            run = self.run_step(scenario.id, step, bindings)
            previous[step.id] = {"dossier_id": run.dossier_id, "status": run.final_status,
                                 "dossier": run.final_body}
            runs.append(run)
        return runs

    def run_step(self, scenario_id: str, step: Step, bindings: dict[str, Any]) -> StepRun:
        run = StepRun(scenario_id, step)
        try:
            body = {"procedure_code": step.procedure_code,
                    "applicant": resolve(step.applicant, bindings),
                    "details": resolve(step.details, bindings)}
        except LookupError as unbound:
            run.error = str(unbound)
            return run
        try:
            with _lease(self.admin, step):
                return self._run_step(run, step, body, bindings)
        except TimeoutError as busy:
            run.error = f"the mock NPDB stayed busy with another run: {busy}"
            return run
        except Exception as failure:  # noqa: BLE001 - the mock's admin API failing is a step error
            run.error = f"could not take the mock for this step: {type(failure).__name__}: {failure}"
            return run

    def _run_step(self, run: StepRun, step: Step, body: dict[str, Any],
                  bindings: dict[str, Any]) -> StepRun:
        wall_start = time.time()
        named = set(_strings(body))
        people = {text for text in named if _is_personal_id(text)}
        try:
            mark = self.admin.audit_mark()
            for fault in step.faults:
                # Scoped to this step's people: another run's calls (or this run's background
                # retries of earlier dossiers) never meet this step's fault.
                self.admin.inject(**_fault_arguments(fault), personal_ids=sorted(people))
            self._submit_and_poll(run, body)
        except Exception as failure:  # noqa: BLE001 - the mock's admin API failing is a step error
            run.error = f"{type(failure).__name__}: {failure}"
            return run
        finally:
            if step.faults:
                _quietly(self.admin.clear_faults)
        time.sleep(AUDIT_SETTLE_S)
        try:
            # The admin client's run id keeps other runs' calls out of the window.
            # Background retries of earlier dossiers land in this window too; keep this step's.
            # Calls that began before the step (a held-open timeout fault) are not this step's.
            run.audit = [entry for entry in map(as_dict, self.admin.audit(since_id=mark))
                         if float(entry.get("ts") or wall_start) >= wall_start - 0.05
                         and _about_step(entry, people, named)]
        except Exception as failure:  # noqa: BLE001
            run.error = f"audit log unreadable: {type(failure).__name__}: {failure}"
        if step.npdb_event is not None and run.error is None:
            try:
                self.admin.notify(step.npdb_event.type,
                                  str(resolve(step.npdb_event.personal_id, bindings)))
            except Exception as failure:  # noqa: BLE001
                run.error = f"NPDB event not recorded: {type(failure).__name__}: {failure}"
        return run

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}

    def _submit_and_poll(self, run: StepRun, body: dict[str, Any]) -> None:
        headers = {**self._headers(), "Idempotency-Key": str(uuid.uuid4())}
        run.submit = self.client.request("POST", f"{self.api_url}/dossiers", headers=headers,
                                         json_body=body)
        created = run.submit.json()
        if run.submit.status not in (200, 201, 202) or not isinstance(created, dict):
            return
        run.dossier_id = str(created.get("dossier_id") or "") or None
        if run.dossier_id is None:
            return
        submitted = time.monotonic()
        run.history.append(StatusSample(0.0, run.submit.status, created.get("status")))
        while True:
            exchange = self.client.request("GET", f"{self.api_url}/dossiers/{run.dossier_id}",
                                           headers=self._headers())
            document = exchange.json()
            status = document.get("status") if isinstance(document, dict) else None
            run.history.append(StatusSample(round(time.monotonic() - submitted, 3),
                                            exchange.status, status, exchange.error))
            if exchange.status == 200 and status in FINAL_STATUSES:
                run.final_status, run.final_body = status, document
                break
            if exchange.status == 404 and len(run.history) > 2:
                break  # it existed and is gone: lost, no point waiting for it
            # Without injected faults a dossier has no reason to wait on the NPDB: a compliant
            # system finishes in about a second, so a broken one is not waited on for long.
            limit = self.poll_timeout_s if run.faults else min(self.poll_timeout_s,
                                                               FAULT_FREE_POLL_S)
            if time.monotonic() - submitted > limit:
                run.final_status = status if exchange.status == 200 else None
                run.final_body = document
                break
            time.sleep(POLL_INTERVAL_S)
        if run.faults:
            listing = self.client.request("GET", f"{self.api_url}/dossiers",
                                          headers=self._headers(), params={"limit": 100})
            items = listing.json()
            if isinstance(items, dict):
                items = items.get("items", items.get("dossiers", []))
            run.listed = isinstance(items, list) and any(
                isinstance(d, dict) and d.get("dossier_id") == run.dossier_id for d in items)


def _lease(admin: AdminAPI, step: Step) -> contextlib.AbstractContextManager[None]:
    """Hold the shared mock for the step: alone while it injects faults (they trip the SUT's
    NPDB-wide circuit breaker and backoff, which would spill into another run's steps), shared
    otherwise. No lease without a run namespace (an admin client without a run id)."""
    if admin.run_id is None:
        return contextlib.nullcontext()
    return admin.lease("exclusive" if step.faults else "shared")


def _is_personal_id(text: str) -> bool:
    return len(text) == 12 and text.isdigit()


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for v in value.values() for text in _strings(v)]
    if isinstance(value, list):
        return [text for v in value for text in _strings(v)]
    return []


SUBJECT_PATH = re.compile(r"/npdb/v1/(?:citizens|households)/([^/?]+)")


def _about_step(entry: dict[str, Any], people: set[str], named: set[str]) -> bool:
    """An audit entry belongs to the step when it is about one of the step's people. An entry
    about nobody the NPDB holds (a 404 for an unknown household or citizen records no people)
    belongs to the step whose dossier names the id in its path; one about no subject at all
    (tokens, subscriptions) to every step it falls in."""
    if entry.get("personal_ids"):
        return bool(people & set(entry.get("personal_ids") or []))
    subject = SUBJECT_PATH.search(str(entry.get("path") or ""))
    return subject is None or subject.group(1) in named


def _fault_arguments(fault: Fault) -> dict[str, Any]:
    arguments: dict[str, Any] = {"endpoint": fault.endpoint, "kind": fault.kind,
                                 "count": fault.count, "probability": fault.probability}
    for name in ("status", "latency_ms", "retry_after_s"):
        if getattr(fault, name) is not None:
            arguments[name] = getattr(fault, name)
    return arguments


def _quietly(action: Any) -> None:
    with contextlib.suppress(Exception):  # cleanup must not hide the step's own result
        action()
