"""SCN-OUTCOME shows the SUT's own reason for a wrong outcome (issue 13): the final dossier's
outcome and reasons in the finding, and the whole status body as evidence."""

from __future__ import annotations

import json

from harness.checks import Status
from harness.net import Exchange
from harness.suites.scenario import checks
from harness.suites.scenario.context import ScenarioContext, load_purposes
from harness.suites.scenario.model import load_all
from harness.suites.scenario.runner import StatusSample, StepRun

STEP = next(step for scenario in load_all() if scenario.id == "birth-registration"
            for step in scenario.steps)
SUBMIT_URL = "http://127.0.0.1:9/connection/v1/dossiers"


def _run(final_status: str, final_body: object) -> ScenarioContext:
    run = StepRun("birth-registration", STEP, dossier_id="d-1",
                  submit=Exchange("POST", SUBMIT_URL, {}, status=202, body=b"{}"),
                  history=[StatusSample(0.0, 202, "received"), StatusSample(1.0, 200, final_status)],
                  final_status=final_status, final_body=final_body,
                  audit=[{"id": 1, "method": "POST", "path": f"/npdb/v1/{m}", "status": 200,
                          "client_id": "city-system", "personal_ids": ["001090000001"]}
                         for m in STEP.expect.npdb.must_call])
    return ScenarioContext(runs=[run], allowed_fields=load_purposes())


def test_a_wrong_outcome_names_the_suts_reasons() -> None:
    body = {"dossier_id": "d-1", "status": "rejected", "outcome": "rejected",
            "reasons": ["mother's identity does not match the NPDB (date_of_birth)"]}
    result = checks.outcome(_run("rejected", body))
    assert result.status is Status.FAIL
    assert "mother's identity does not match the NPDB (date_of_birth)" in result.summary
    shown = [e.to_json() for e in result.evidence if "final dossier" in e.title]
    assert len(shown) == 1
    assert "does not match the NPDB" in json.dumps(shown[0]["data"], ensure_ascii=False)


def test_a_wrong_outcome_without_reasons_says_so() -> None:
    body = {"dossier_id": "d-1", "status": "rejected", "outcome": "rejected", "reasons": []}
    result = checks.outcome(_run("rejected", body))
    assert result.status is Status.FAIL and "no reasons given" in result.summary


def test_the_right_outcome_passes() -> None:
    body = {"dossier_id": "d-1", "status": "completed", "outcome": "approved", "reasons": []}
    assert checks.outcome(_run(STEP.expect.outcome, body)).status is Status.PASS
