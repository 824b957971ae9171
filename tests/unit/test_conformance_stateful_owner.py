"""CONF-STATEFUL judges a read-back only when the resource was created with the run's credential.

connection/v1 reports another owner's dossier as 404. When the SUT accepted a create with no
credential at all (ignored auth, CONF-AUTH-IGNORED's defect), the dossier belongs to no client the
read acts as, so the read's 404 is right: it must not also fail CONF-STATEFUL.
"""

from __future__ import annotations

import json
from pathlib import Path

from harness.suites.conformance.runner import FuzzOutcome, FuzzPlan, parse_events

CREATED = "72fa35df-a990-42e3-8a69-323d0e21c2e7"


def _stream(tmp_path: Path, create_headers: dict[str, list[str]]) -> Path:
    created = json.dumps({"dossier_id": CREATED, "status": "received"}).encode()
    recorder = {
        "label": "POST /connection/v1/dossiers -> GET /connection/v1/dossiers/{dossier_id}",
        "cases": {"post": {"value": {"method": "POST"}, "parent_id": None},
                  "get": {"value": {"method": "GET"}, "parent_id": "post"}},
        "interactions": {
            "post": {"request": {"method": "POST", "uri": "https://127.0.0.1:1/connection/v1/dossiers",
                                 "headers": create_headers},
                     "response": {"status_code": 201, "headers": {},
                                  "content": created.decode()}},
            "get": {"request": {"method": "GET", "headers": {"Authorization": ["[Filtered]"]},
                                "uri": f"https://127.0.0.1:1/connection/v1/dossiers/{CREATED}"},
                    "response": {"status_code": 404, "headers": {}, "content": "{}"}}},
        "checks": {"get": [{"name": "ensure_resource_availability", "status": "failure",
                            "failure_info": {"failure": {
                                "operation": "POST /connection/v1/dossiers",
                                "title": "Created resource not found", "code": "ST302"}}}]},
    }
    events = tmp_path / "events.ndjson"
    events.write_text(json.dumps({"ScenarioFinished": {"phase": "stateful",
                                                       "recorder": recorder}}) + "\n",
                      encoding="utf-8")
    return events


def _stateful_failures(tmp_path: Path, create_headers: dict[str, list[str]]) -> int:
    plan = FuzzPlan(spec_path=tmp_path / "spec.yaml", base_url="https://127.0.0.1:1/connection/v1",
                    token="t", workdir=tmp_path, seed=0, max_examples=1)
    outcome = FuzzOutcome()
    parse_events(_stream(tmp_path, create_headers), plan, outcome)
    return outcome.failure_counts.get("ensure_resource_availability", 0)


def test_a_resource_created_with_the_credential_and_not_found_fails(tmp_path: Path) -> None:
    headers = {"Authorization": ["[Filtered]"], "Content-Type": ["application/json"]}
    assert _stateful_failures(tmp_path, headers) == 1


def test_a_resource_created_without_any_credential_is_not_a_stateful_fault(
        tmp_path: Path) -> None:
    assert _stateful_failures(tmp_path, {"Content-Type": ["application/json"]}) == 0
