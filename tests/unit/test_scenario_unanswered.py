"""A SUT that gives no HTTP answer (hangs, resets, speaks garbage) makes every scenario check an
error with evidence, never a finding; an HTTP error answer stays a finding."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from harness.checks import Check, Status
from harness.net import Exchange
from harness.registry import default_registry
from harness.suites.scenario import checks
from harness.suites.scenario.context import ScenarioContext, load_purposes
from harness.suites.scenario.model import Step, load_all
from harness.suites.scenario.runner import StatusSample, StepRun

STEPS = [(scenario.id, step) for scenario in load_all() for step in scenario.steps]
SUBMIT_URL = "http://127.0.0.1:9/connection/v1/dossiers"


def answered(status: int, body: bytes = b"{}") -> Exchange:
    return Exchange("POST", SUBMIT_URL, {}, status=status, body=body)


def unanswered(error: str = "no response within 2 s (read timeout)") -> Exchange:
    return Exchange("POST", SUBMIT_URL, {}, error=error)


def context(make_run: Callable[[str, Step], StepRun]) -> ScenarioContext:
    return ScenarioContext(runs=[make_run(sid, step) for sid, step in STEPS],
                           allowed_fields=load_purposes())


@pytest.mark.parametrize("check", default_registry().for_suite("scenario"), ids=lambda c: c.id)
def test_no_answer_to_any_submission_is_an_error(check: Check) -> None:
    ctx = context(lambda sid, step: StepRun(sid, step, submit=unanswered()))
    result = check.function(ctx)
    assert result.status is Status.ERROR, result.summary
    assert "no HTTP answer to the submission" in result.summary
    assert result.evidence


def test_no_answer_to_status_polls_is_an_error() -> None:
    def run(sid: str, step: Step) -> StepRun:
        return StepRun(sid, step, dossier_id="d-1", submit=answered(202),
                       history=[StatusSample(0.0, 200, "received"),
                                StatusSample(1.5, None, None, "connection reset by peer")])
    ctx = context(run)
    for check in (checks.outcome, checks.fault_no_loss, checks.fault_retry):
        result = check(ctx)
        assert result.status is Status.ERROR, (check.__name__, result.summary)
        assert "GET dossier at 1.5s: connection reset by peer" in result.summary


def test_an_http_error_answer_is_still_a_finding() -> None:
    ctx = context(lambda sid, step: StepRun(sid, step, submit=answered(500)))
    assert checks.outcome(ctx).status is Status.FAIL
    assert checks.fault_no_loss(ctx).status is Status.FAIL
