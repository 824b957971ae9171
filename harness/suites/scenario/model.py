"""Procedure scenarios (scenarios/*.yaml): the pydantic model and a loader that names file, line, field.

A scenario draws real people from the synthetic population (``population:``), then drives the SUT's
connection API step by step; each step states what the mock NPDB's audit log must show.
The schema is documented in scenarios/README.md.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from harness import resources
from harness.errors import ConfigError
from harness.yaml_documents import read_yaml, validation_error

SCENARIOS_DIR = resources.scenarios_dir()
PROCEDURE_CODE = r"^\d\.\d{6}$"
PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_-]+)*)\}")
SampleKind = Literal["adult", "married_couple", "child_with_parents", "household", "deceased",
                     "unknown"]
FaultKind = Literal["latency", "status", "timeout", "reset", "malformed", "rate_limit"]
FinalStatus = Literal["completed", "rejected"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PopulationDraw(_Strict):
    """People drawn from the mock's synthetic population, bound to a name for placeholders."""

    kind: SampleKind
    index: int = Field(0, ge=0, le=50)  # which of the matching records (distinct people)
    where: dict[str, str] = Field(default_factory=dict)  # e.g. {marital_status: single}
    max_age: int | None = Field(None, ge=0, le=130)  # e.g. 5 for a child under 6


class Fault(_Strict):
    """A fault the mock NPDB injects during the step (POST /admin/faults)."""

    endpoint: str = Field(pattern=r"^(\*|/npdb/v1/.+)$")
    kind: FaultKind
    count: int = Field(1, ge=1, le=20)
    probability: float = Field(1.0, gt=0, le=1)
    status: int | None = Field(None, ge=400, le=599)
    latency_ms: int | None = Field(None, ge=0, le=60_000)
    retry_after_s: int | None = Field(None, ge=0, le=30)

    @model_validator(mode="after")
    def _status_for_status_faults(self) -> Fault:
        if self.kind == "status" and self.status is None:
            raise ValueError("a fault of kind 'status' needs status (e.g. 503)")
        return self


class NpdbExpectation(_Strict):
    """What the step's NPDB calls (the audit-log window around it) must look like."""

    purpose_code: str | None = Field(None, pattern=PROCEDURE_CODE)  # defaults to the procedure's
    max_calls: int = Field(ge=1, le=50)  # call budget for the step (fault-free calls)
    must_call: list[str] = Field(default_factory=list)  # endpoints that must appear, e.g. identity/verify
    # The citizen fields (GET /npdb/v1/citizens/{id}?fields=) the procedure's decision reads: what
    # the SUT may ask for, not the purpose's ceiling in purposes.yaml ([] = no citizen lookup).
    fields: list[str] = Field(max_length=30)

    @field_validator("fields")
    @classmethod
    def _field_names(cls, value: list[str]) -> list[str]:
        for name in value:
            if not re.fullmatch(r"[a-z][a-z_]*", name):
                raise ValueError(f"{name!r} is not an NPDB citizen field name")
        if len(set(value)) != len(value):
            raise ValueError("a field is named twice")
        return value


DossierStatus = Literal["received", "processing", "pending_npdb", "completed", "rejected"]


def _progress_statuses() -> list[DossierStatus]:
    return ["received", "processing", "pending_npdb", "completed"]


class Expectation(_Strict):
    outcome: FinalStatus
    npdb: NpdbExpectation
    # Fault steps: statuses the dossier may pass through; anything else is a wrong report.
    allowed_statuses: list[DossierStatus] = Field(default_factory=_progress_statuses)


class NpdbEvent(_Strict):
    """A change the NPDB records after the step (as the registry would), e.g. the death just declared.

    Sent through the mock's admin API, which updates its register and notifies subscribers.
    """

    type: Literal["birth", "death", "residence_change"]
    personal_id: str


class Step(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    procedure_code: str = Field(pattern=PROCEDURE_CODE)
    applicant: dict[str, Any]
    details: dict[str, Any] = Field(default_factory=dict)
    faults: list[Fault] = Field(default_factory=list)
    expect: Expectation
    npdb_event: NpdbEvent | None = None


class Scenario(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    title_vi: str = Field(min_length=1)
    title_en: str = Field(min_length=1)
    population: dict[str, PopulationDraw] = Field(min_length=1)
    steps: list[Step] = Field(min_length=1)
    source: Path | None = Field(None, exclude=True)

    @field_validator("population")
    @classmethod
    def _names(cls, value: dict[str, PopulationDraw]) -> dict[str, PopulationDraw]:
        for name in value:
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                raise ValueError(f"{name!r} is not a valid binding name (letters, digits, _)")
        return value

    @model_validator(mode="after")
    def _placeholders_are_bound(self) -> Scenario:
        """A placeholder naming no drawn person is a typo; catch it at load, not mid-run."""
        step_ids = [s.id for s in self.steps]
        for index, step in enumerate(self.steps):
            event = step.npdb_event.personal_id if step.npdb_event else ""
            for ref in placeholders({"applicant": step.applicant, "details": step.details,
                                     "event": event}):
                root = ref.split(".")[0]
                if root not in self.population and root != "previous":
                    raise ValueError(f"steps.{index} ({step.id}): placeholder ${{{ref}}} names "
                                     f"{root!r}, which is not in population")
        if len(set(step_ids)) != len(step_ids):
            raise ValueError("step ids must be unique")
        return self

    @property
    def has_faults(self) -> bool:
        return any(step.faults for step in self.steps)


def placeholders(value: Any) -> list[str]:
    if isinstance(value, str):
        return PLACEHOLDER.findall(value)
    if isinstance(value, dict):
        return [ref for v in value.values() for ref in placeholders(v)]
    if isinstance(value, list):
        return [ref for v in value for ref in placeholders(v)]
    return []


def load_scenario(path: Path) -> Scenario:
    """Parse and validate one file; errors are ConfigError(path, 'field (line N)', message)."""
    raw, node = read_yaml(path, what="scenario", hint="see scenarios/README.md")
    if not isinstance(raw, dict):
        raise ConfigError(path, "", "a scenario is a YAML mapping (id:, population:, steps:)",
                          "see scenarios/README.md")
    try:
        scenario = Scenario.model_validate(raw)
    except ValidationError as invalid:
        raise validation_error(path, node, invalid,
                               default_hint="see scenarios/README.md for the schema") from None
    return scenario.model_copy(update={"source": path})


def load_all(directory: Path = SCENARIOS_DIR) -> list[Scenario]:
    """Every scenario of the folder, sorted by file name; the first malformed file raises."""
    return [load_scenario(path) for path in sorted(directory.glob("*.yaml"))]
