"""Conformance suite on the real mock NPDB + reference city system (quick example budget).

The compliant system passes every CONF- check; each conformance defect switch makes exactly its
check fail. Each defect needs its own SUT process, so the defects share one mock NPDB.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.checks import Status
from harness.health import is_inconclusive
from harness.registry import default_registry
from harness.suites.conformance.checks import latency_budget
from harness.suites.conformance.context import make_context
from tests.suites.lab import evaluate, failing, launchers, run_context
from tests.switch_runs import results_of, switch_param, switch_report

pytestmark = pytest.mark.integration


CHECKS = default_registry().for_suite("conformance")
# Switches not run here (as before): auth.no_token_accepted is tests/suites/test_auth.py's, and
# both run in tests/integration/test_detection_matrix.py.
ELSEWHERE = {"auth.no_token_accepted", "conformance.spec_drift"}
# defect switch -> the checks it fails, as the checks declare it. conformance.slow_responses fails
# two, each for its own reason: GET /dossiers at 1.2 s is over the fuzzing's response-time limit
# and over listDossiers' latency budget.
DEFECT_TO_CHECKS = {d: {c.id for c in CHECKS if d in c.defects}
                    for d in sorted({d for c in CHECKS for d in c.defects} - ELSEWHERE)}


@pytest.fixture(scope="module")
def npdb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    MockNPDB, _ = launchers()
    with MockNPDB(tmp_path_factory.mktemp("npdb"), population=100_000, seed=6) as mock:
        yield mock


def conformance_results(npdb: Any, tmp: Path, defects: frozenset[str]) -> tuple[Any, dict]:
    _, CitySystem = launchers()
    with CitySystem(npdb, tmp / "city", defects=defects) as city:
        factory = make_context(run_context(npdb, city, tmp))
        context = next(factory)
        try:
            results = evaluate("conformance", context)
        finally:
            factory.close()
    budget = latency_budget(context)
    if is_inconclusive(budget.status, budget.summary):
        # popcert was saturated while timing (harness/health.py): CONF-LATENCY-BUDGET could not
        # be judged. Tests about it skip (never pass); the others compare the checks that could.
        del results["CONF-LATENCY-BUDGET"]
    return context, results


def skip_unjudged_budget(results: dict) -> None:
    if "CONF-LATENCY-BUDGET" not in results:
        pytest.skip("host saturated: CONF-LATENCY-BUDGET inconclusive (harness/health.py)")


@pytest.fixture(scope="module")
def compliant(npdb: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, dict]:
    return conformance_results(npdb, tmp_path_factory.mktemp("compliant"), frozenset())


def test_reference_system_passes_every_conformance_check(compliant: tuple[Any, dict]) -> None:
    context, results = compliant
    assert context.outcome.requests > 0
    assert failing(results) == set(), results
    assert {s for s in results.values()} <= {Status.PASS, Status.SKIP}, results
    assert results["CONF-SPEC-DRIFT"] == Status.PASS


def test_webhook_is_left_out_of_bearer_fuzzing(compliant: tuple[Any, dict]) -> None:
    context, _ = compliant
    assert context.plan.exclude_path_regex == "^(/connection/v1/notifications)$"


CASES = [switch_param(d, c) for d, c in sorted(DEFECT_TO_CHECKS.items())]


@pytest.mark.parametrize(("defect", "expected"), CASES)
def test_defect_fails_exactly_its_check(tmp_path_factory: pytest.TempPathFactory, defect: str,
                                        expected: set[str]) -> None:
    # The detection matrix's run of this switch (tests/switch_runs.py), run once for both.
    results = results_of(switch_report(defect, tmp_path_factory), "conformance")
    budget = results["CONF-LATENCY-BUDGET"]
    if is_inconclusive(budget["status"], budget["summary"]):
        # popcert was saturated while timing (harness/health.py): CONF-LATENCY-BUDGET could not
        # be judged. Tests about it skip (never pass); the others compare the checks that could.
        if "CONF-LATENCY-BUDGET" in expected:
            pytest.skip("host saturated: CONF-LATENCY-BUDGET inconclusive (harness/health.py)")
        del results["CONF-LATENCY-BUDGET"]
    statuses = {check_id: r["status"] for check_id, r in results.items()}
    assert {c for c, status in statuses.items() if status == "fail"} == expected, statuses
    assert "error" not in statuses.values(), statuses  # a slow SUT is still fuzzed in full
    for check_id in expected:
        commands = [e["data"]["command"] for e in results[check_id]["evidence"]
                    if e["kind"] == "reproduction"]
        assert any(c.startswith("curl ") for c in commands)
        assert all("eyJ" not in c for c in commands)  # the token never reaches the evidence


def test_reference_system_is_within_every_latency_budget(compliant: tuple[Any, dict]) -> None:
    context, results = compliant
    skip_unjudged_budget(results)
    timings = {t.operation.operation_id: t for t in context.latency.timings}
    assert set(timings) == {"createDossier", "listDossiers", "getDossier", "getHealth"}
    assert all(t.timed and len(t.samples_ms) == 10 for t in timings.values()), timings
    assert results["CONF-LATENCY-BUDGET"] == Status.PASS
