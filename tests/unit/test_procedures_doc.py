"""docs/procedures.md is the vendor's account of each procedure: its table (codes, NPDB calls,
call budget, required calls) must agree with scenarios/*.yaml, which SCN-OUTCOME and
SCN-CALL-BUDGET judge, so a scenario edit that the doc does not follow fails here."""

from __future__ import annotations

import re
from pathlib import Path

from harness.suites.scenario.checks import PROTOCOL_REFUSALS
from harness.suites.scenario.model import load_all

DOC = Path(__file__).resolve().parents[2] / "docs" / "procedures.md"
ROW = re.compile(r"^\| (1\.\d{6}) \| ([^|]+) \| ([^|]+) \| (\d+) \| ([^|]+) \|$")


def _rows() -> dict[str, tuple[str, str, int, set[str]]]:
    rows = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if (found := ROW.match(line)) is not None:
            code, name, calls, budget, must = found.groups()
            must_call = set() if must.strip() == "-" else {m.strip() for m in must.split(",")}
            rows[code] = (name.strip(), calls, int(budget), must_call)
    return rows


def test_the_table_names_every_procedure_the_scenarios_run() -> None:
    rows = _rows()
    steps = [step for scenario in load_all() for step in scenario.steps]
    assert {step.procedure_code for step in steps} == set(rows)
    for step in steps:
        _, calls, budget, must_call = rows[step.procedure_code]
        assert step.expect.npdb.max_calls == budget, (step.id, step.procedure_code)
        assert set(step.expect.npdb.must_call) <= must_call, step.id
        assert all(endpoint in calls for endpoint in step.expect.npdb.must_call), step.id


def test_the_budget_wording_says_what_scn_call_budget_counts() -> None:
    text = DOC.read_text(encoding="utf-8")
    flat = " ".join(text.split())
    *first, last = sorted(PROTOCOL_REFUSALS)
    assert f"whatever their answer except {', '.join(map(str, first))} and {last}." in flat
    assert "`/npdb/v1/subscriptions`" in flat and "(`/oauth2/token`)" in flat
    assert "marriage spends 4 (two verifications, two lookups)" in flat


def test_every_rejected_step_is_explained_by_a_rule() -> None:
    text = DOC.read_text(encoding="utf-8")
    # each rejected step of the scenarios, and the rule of docs/procedures.md that rejects it
    rules = {"register-birth-mismatched-mother": "The mother must match",
             "register-birth-mismatched-father": "the father, when declared, must match",
             "health-insurance-not-a-parent": "the applicant must be the child's father or mother",
             "funeral-allowance-no-death": "the NPDB must record the death of the deceased",
             "register-marriage-already-married": "is already married",
             "register-marriage-same-person": "must be two different people",
             "register-marriage-under-age": "A spouse under the legal age",
             "register-death-again": "is rejected as already registered",
             "register-death-future-date": "in the future is rejected",
             "register-death-unknown-person": "The deceased must be known to the NPDB",
             "register-residence-unknown-household": "a named household must exist in the NPDB"}
    rejected = {step.id for scenario in load_all() for step in scenario.steps
                if step.expect.outcome == "rejected"}
    assert rejected == set(rules)
    for step_id, rule in rules.items():
        assert rule in " ".join(text.split()), step_id
