"""CONF-LATENCY-BUDGET's pure parts and CONF-SPEC-DRIFT's missing-spec rule, without a network.

Elapsed times are injected (a fake client), never measured: the budgets' judgement is what is
tested here; tests/suites/test_conformance.py times the real reference system.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from harness.checks import Status
from harness.net import Exchange
from harness.profiles import CERTIFIED, NOT_CERTIFIED, decide, load_profile
from harness.suites.conformance import checks, spec
from harness.suites.conformance import context as conformance_context
from harness.suites.conformance.latency import (
    DEFAULT_BUDGET_MS,
    LatencyReport,
    budget_for,
    measure,
    timed_operations,
)
from harness.suites.conformance.runner import FuzzOutcome, FuzzPlan

SPEC = spec.load_spec()
BASE = "https://127.0.0.1:8443"
TOKEN = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJwb3J0YWwifQ.c2ln"


class FakeClient:
    """Answers every request with a status and an elapsed time chosen per call."""

    def __init__(self, elapsed: Any, status: Any = 200, error: str | None = None) -> None:
        self.elapsed, self.status, self.error = elapsed, status, error
        self.sent: list[tuple[str, str, dict[str, str]]] = []

    def request(self, method: str, url: str, *, headers: dict[str, str] | None = None,
                json_body: Any = None, params: Any = None, **_: Any) -> Exchange:
        self.sent.append((method, url, dict(headers or {})))
        n = len(self.sent)
        status = self.status(method, url, n) if callable(self.status) else self.status
        elapsed = self.elapsed(method, url, n) if callable(self.elapsed) else self.elapsed
        body = b'{"dossier_id": "3f1c2a9e-8b7d-4c6e-9a1b-2d3e4f5a6b7c"}'
        if self.error:
            return Exchange(method, url, dict(headers or {}), json_body, error=self.error,
                            elapsed_ms=elapsed)
        return Exchange(method, url, dict(headers or {}), json_body, status=status,
                        headers={"content-type": "application/json"}, body=body,
                        elapsed_ms=elapsed)


def operations() -> list[Any]:
    return timed_operations(SPEC, spec.bearer_scheme(SPEC),
                            spec.hmac_operation_paths(SPEC))


def run(client: FakeClient, thresholds: dict[str, Any] | None = None, **kw: Any) -> Any:
    return measure(client, BASE, TOKEN, operations(),  # type: ignore[arg-type]
                   thresholds or {"latency_budget_ms": {"read": 300, "write": 500}},
                   sleep=lambda s: None, health=False, **kw)


# --- valid requests from the spec alone -------------------------------------------------------

def test_every_bearer_and_public_operation_gets_a_valid_request_from_the_spec() -> None:
    by_id = {o.operation_id: o for o in operations()}
    assert set(by_id) == {"createDossier", "listDossiers", "getDossier", "getHealth"}
    assert all(o.problem is None for o in by_id.values()), by_id
    assert by_id["createDossier"].body["procedure_code"] == "1.001193"  # the spec's example
    assert by_id["getDossier"].linked == {"dossier_id": ("createDossier", "/dossier_id")}
    assert by_id["createDossier"].bearer and not by_id["getHealth"].bearer
    # The operation fed by a link is timed after the one that feeds it.
    order = [o.operation_id for o in operations()]
    assert order.index("getDossier") > order.index("createDossier")


def test_an_operation_the_spec_gives_no_valid_request_for_is_not_timed() -> None:
    spec = {"paths": {"/things/{id}": {"get": {"operationId": "getThing", "parameters": [
        {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}]}}}}
    (operation,) = timed_operations(spec, None, [])
    assert operation.problem == "no link or example gives path parameter id"


def test_budgets_by_operation_then_method_class_then_default() -> None:
    thresholds = {"latency_budget_ms": {"createDossier": 800, "read": 300, "default": 400}}
    assert budget_for(thresholds, "createDossier", "post") == 800
    assert budget_for(thresholds, "getDossier", "get") == 300
    assert budget_for(thresholds, "deleteDossier", "delete") == 400
    assert budget_for({"latency_budget_ms": 250}, "anything", "post") == 250
    assert budget_for({}, "anything", "get") == DEFAULT_BUDGET_MS


# --- judging the samples ------------------------------------------------------------------------

def test_a_fast_system_is_within_budget_and_the_id_comes_from_the_created_dossier() -> None:
    client = FakeClient(elapsed=12.0, status=lambda m, u, n: 201 if m.upper() == "POST" else 200)
    report = run(client)
    assert [t.operation.operation_id for t in report.timings if t.timed] == [
        t.operation.operation_id for t in report.timings]
    assert all(len(t.samples_ms) == 10 and not t.over_budget for t in report.timings)
    assert any(u.endswith("/dossiers/3f1c2a9e-8b7d-4c6e-9a1b-2d3e4f5a6b7c") for _, u, _ in client.sent)
    bearer = [h for m, u, h in client.sent if not u.endswith("/health")]
    assert all(h["Authorization"] == f"Bearer {TOKEN}" for h in bearer)


def test_one_slow_request_does_not_fail_a_compliant_system() -> None:
    # A loaded CI machine: one request in ten takes 2.5 s; median and p90 stay within budget.
    report = run(FakeClient(elapsed=lambda m, u, n: 2500.0 if n % 11 == 5 else 15.0))
    assert not any(t.over_budget for t in report.timings)


def test_600_ms_on_every_response_is_over_every_budget_and_stops_early() -> None:
    client = FakeClient(elapsed=612.0)
    report = run(client)
    assert all(t.over_budget for t in report.timings)
    # Once more than half the samples are over budget the median is decided: 1 warm-up + 6.
    assert all(t.attempts == 7 for t in report.timings)


def test_a_system_slow_on_a_third_of_requests_fails_on_p90() -> None:
    report = run(FakeClient(elapsed=lambda m, u, n: 900.0 if n % 3 == 0 else 20.0))
    listing = next(t for t in report.timings if t.operation.operation_id == "listDossiers")
    assert listing.median_ms is not None and listing.median_ms <= 300
    assert listing.over_budget  # p90 900 ms > 2 x 300 ms


def test_rate_limited_answers_are_waited_out_not_sampled() -> None:
    waits: list[float] = []
    client = FakeClient(elapsed=10.0, status=lambda m, u, n: 429 if n in (2, 3) else 200)
    report = measure(client, BASE, TOKEN, operations(),  # type: ignore[arg-type]
                     {"latency_budget_ms": 300}, sleep=waits.append, health=False)
    assert len(waits) == 2 and all(0 < w <= 5 for w in waits)
    assert all(t.timed for t in report.timings if t.operation.method == "get")


def test_rejected_valid_requests_leave_the_operation_untimed() -> None:
    report = run(FakeClient(elapsed=10.0, status=lambda m, u, n: 422 if m.upper() == "POST" else 200))
    create = next(t for t in report.timings if t.operation.operation_id == "createDossier")
    assert not create.timed and "422" in (create.problem or "")
    get = next(t for t in report.timings if t.operation.operation_id == "getDossier")
    assert not get.timed and "createDossier gave none" in (get.problem or "")


def test_no_http_answer_stops_the_phase_and_the_check_cannot_decide() -> None:
    client = FakeClient(elapsed=2000.0, error="ReadTimeout: timed out")
    report = run(client)
    assert len(client.sent) == 1 and report.aborted and "no HTTP answer" in report.aborted
    result = checks.latency_budget(context(latency=report))
    assert result.status == Status.ERROR and result.evidence


def test_the_phase_stops_at_its_time_limit() -> None:
    ticks = iter(range(0, 10_000, 10))
    report = measure(FakeClient(elapsed=10.0), BASE, TOKEN, operations(),  # type: ignore[arg-type]
                     {}, sleep=lambda s: None, phase_limit_s=45, clock=lambda: float(next(ticks)),
                     health=False)
    assert report.aborted and "45 s" in report.aborted
    assert not all(t.timed for t in report.timings)


# --- the checks' results ------------------------------------------------------------------------

def context(**changes: Any) -> conformance_context.ConformanceContext:
    plan = FuzzPlan(spec_path=spec.SPEC_PATH, base_url=BASE, token=TOKEN,
                    workdir=Path("/tmp/unused"), seed=7, max_examples=5)
    base = conformance_context.ConformanceContext(plan, FuzzOutcome(), 1000.0, conformance_context.PublishedSpec(),
                                          LatencyReport())
    return dataclasses.replace(base, **changes)  # the context is frozen


def test_the_latency_check_fails_with_measurements_and_a_reproduction_without_the_token() -> None:
    result = checks.latency_budget(context(latency=run(FakeClient(elapsed=612.0))))
    assert result.status == Status.FAIL
    assert "createDossier median 612 ms" in result.summary and "budget 500 ms" in result.summary
    commands = [e.data["command"] for e in result.evidence if e.kind == "reproduction"]
    assert len(commands) == 4 and all("eyJ" not in c for c in commands)
    assert sum('"Authorization: Bearer $TOKEN"' in c for c in commands) == 3  # not /health
    assert all("/tmp" not in c for c in commands)  # files are $CA_BUNDLE..., never local paths
    assert TOKEN not in json.dumps([e.to_json() for e in result.evidence])  # redacted requests
    limits = {e.title: e.data["limit"] for e in result.evidence if e.kind == "measurement"}
    assert limits["getDossier (GET /connection/v1/dossiers/{dossier_id}): median"] == 300


def test_the_latency_check_passes_a_fast_system() -> None:
    result = checks.latency_budget(context(latency=run(FakeClient(elapsed=9.0))))
    assert result.status == Status.PASS and "4 operation(s)" in result.summary


def published_missing() -> conformance_context.PublishedSpec:
    return conformance_context.PublishedSpec(
        error="GET https://127.0.0.1:8443/openapi.json -> 404", answered=True,
        tried=["GET https://127.0.0.1:8443/openapi.json -> 404"])


def test_a_missing_published_spec_fails_where_it_is_mandatory() -> None:
    result = checks.spec_drift(context(published=published_missing(), openapi_required=True))
    assert result.status == Status.FAIL
    assert "publish it at <base_url>/openapi.json or set target.openapi_url" in result.summary


def test_a_missing_published_spec_is_skipped_where_it_is_advisory() -> None:
    result = checks.spec_drift(context(published=published_missing(), openapi_required=False))
    assert result.status == Status.SKIP and "advisory" in result.summary


def test_a_spec_url_that_never_answers_is_an_error_not_a_missing_spec() -> None:
    unreachable = conformance_context.PublishedSpec(error="ConnectError: refused", answered=False)
    result = checks.spec_drift(context(published=unreachable, openapi_required=True))
    assert result.status == Status.ERROR


@pytest.mark.parametrize(("level", "certified"), [("district", True), ("province", False),
                                                  ("ministry", False)])
def test_without_a_published_spec_district_can_be_certified_and_province_cannot(
        level: str, certified: bool) -> None:
    profile = load_profile(level)
    drift = checks.spec_drift(context(
        published=published_missing(), openapi_required=profile.is_mandatory("CONF-SPEC-DRIFT")))
    registered = ["CONF-SPEC-DRIFT", "CONF-STATUS-CODE"]
    statuses = {"CONF-SPEC-DRIFT": str(drift.status), "CONF-STATUS-CODE": "pass"}
    items = {item.id for item in profile.attestations}
    verdict = decide(profile, statuses, registered, True, [], items, date(2026, 6, 1),
                     summaries={"CONF-SPEC-DRIFT": drift.summary})
    assert (verdict.status == CERTIFIED) is certified, verdict.reasons
    if not certified:
        assert verdict.status == NOT_CERTIFIED
        assert any("CONF-SPEC-DRIFT" in r and "set target.openapi_url" in r
                   for r in verdict.reasons)
