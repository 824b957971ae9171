"""Issue 20 item 5, exact data minimisation: every scenario step declares the citizen fields its
procedure reads (not the purpose's ceiling in purposes.yaml), the same for every step of one
procedure and as docs/scenarios.md publishes them; SCN-DATA-MINIMISATION fails a lookup asking for
more, including the purpose's whole list."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from harness.checks import Status
from harness.suites.scenario import checks
from harness.suites.scenario.context import ScenarioContext, fields_beyond_purpose, load_purposes
from harness.suites.scenario.model import Step, load_all
from harness.suites.scenario.runner import StatusSample, StepRun

SCENARIOS = load_all()
PURPOSES = load_purposes()
DOCS = Path(__file__).resolve().parents[2] / "docs" / "scenarios.md"


def _needs() -> dict[str, set[frozenset[str]]]:
    found: dict[str, set[frozenset[str]]] = {}
    for scenario in SCENARIOS:
        for step in scenario.steps:
            found.setdefault(step.procedure_code, set()).add(frozenset(step.expect.npdb.fields))
    return found


def test_shipped_steps_declare_fields_within_their_purpose() -> None:
    assert fields_beyond_purpose(SCENARIOS, PURPOSES) == []


def test_each_procedure_declares_one_field_set_smaller_than_its_purpose() -> None:
    for code, sets in _needs().items():
        assert len(sets) == 1, f"{code}: steps disagree on the fields it reads: {sets}"
        [needed] = sets
        assert needed < PURPOSES[code], f"{code}: the declared fields are the purpose's ceiling"


def test_docs_publish_the_fields_each_procedure_reads() -> None:
    rows = {m.group(1): frozenset(re.findall(r"`([a-z_]+)`", m.group(2)))
            for m in re.finditer(r"^\| `?(\d\.\d{6})`? \|[^|]*\| ([^|]*) \|", DOCS.read_text("utf-8"),
                                 re.MULTILINE)}
    assert {code: next(iter(sets)) for code, sets in _needs().items()} == rows


def _lookup_run(step: Step, fields: list[str] | None) -> StepRun:
    entry: dict[str, Any] = {"id": 1, "method": "GET", "path": "/npdb/v1/citizens/001090000001",
                             "status": 200, "client_id": "city-system",
                             "purpose_code": step.procedure_code,
                             "personal_ids": ["001090000001"], "fields_requested": fields}
    return StepRun("marriage-registration", step, dossier_id="d-1",
                   history=[StatusSample(0.0, 200, "completed")], final_status="completed",
                   audit=[entry])


MARRIAGE = next(step for scenario in SCENARIOS if scenario.id == "marriage-registration"
                for step in scenario.steps)


def _judge(fields: list[str] | None) -> Any:
    context = ScenarioContext(runs=[_lookup_run(MARRIAGE, fields)], allowed_fields=PURPOSES)
    return checks.data_minimisation(context)


def test_the_fields_the_procedure_reads_pass_and_fewer_too() -> None:
    assert _judge(list(MARRIAGE.expect.npdb.fields)).status is Status.PASS
    assert _judge(list(MARRIAGE.expect.npdb.fields)[:1]).status is Status.PASS


def test_the_purposes_whole_list_fails() -> None:
    result = _judge(sorted(PURPOSES[MARRIAGE.procedure_code]))
    assert result.status is Status.FAIL
    assert "does not need" in result.summary and "ceiling, not a quota" in result.summary


def test_one_unneeded_field_within_the_purpose_fails() -> None:
    result = _judge([*MARRIAGE.expect.npdb.fields, "spouse_id"])
    assert result.status is Status.FAIL and "['spouse_id']" in result.summary


def test_no_fields_parameter_and_fields_beyond_the_purpose_fail() -> None:
    assert "no fields=" in _judge(None).summary
    assert "beyond what purpose" in _judge(["religion"]).summary
