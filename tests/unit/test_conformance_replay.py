"""The request log a seed must reproduce (harness/suites/conformance/replay.py): ids the SUT made
up are placeholders, everything schemathesis generated is kept, each case counts once."""

from __future__ import annotations

import base64
import json
from typing import Any

from harness.suites.conformance.replay import RequestLog

MADE_UP = "3f1c2a9e-8b7d-4c6e-9a1b-2d3e4f5a6b7c"
GENERATED = "00000000-0000-4000-8000-000000000000"


def interaction(method: str, uri: str, body: Any = None, response: Any = None) -> dict[str, Any]:
    request: dict[str, Any] = {"method": method, "uri": uri}
    if body is not None:
        request["body"] = {"$base64": base64.b64encode(json.dumps(body).encode()).decode()}
    answer = {"status_code": 201, "headers": {},
              "content": {"$base64": base64.b64encode(json.dumps(response or {}).encode()).decode()}}
    return {"request": request, "response": answer}


def recorder(*pairs: tuple[str, dict[str, Any]], path: str = "/connection/v1/dossiers") -> dict[str, Any]:
    return {"label": "x", "interactions": dict(pairs),
            "cases": {cid: {"value": {"method": i["request"]["method"], "path": path}}
                      for cid, i in pairs}}


def run(dossier_id: str, body_name: str = "An") -> RequestLog:
    log = RequestLog()
    log.add_scenario("stateful", "Stateful tests", recorder(
        ("a", interaction("POST", "https://127.0.0.1:1/connection/v1/dossiers", {"name": body_name},
                          {"dossier_id": dossier_id})),
    ))
    log.add_scenario("stateful", "Stateful tests", recorder(
        ("b", interaction("GET", f"https://127.0.0.1:1/connection/v1/dossiers/{dossier_id}")),
        ("c", interaction("GET", f"https://127.0.0.1:1/connection/v1/dossiers/{GENERATED}")),
        path="/connection/v1/dossiers/{dossier_id}"))
    return log


def test_ids_the_sut_made_up_are_placeholders_and_generated_ones_are_kept() -> None:
    first, second = run(MADE_UP), run("9d2c0a11-1111-4222-8333-444455556666")
    assert [r.target for r in first.requests] == [
        "/connection/v1/dossiers", "/connection/v1/dossiers/{r0}", f"/connection/v1/dossiers/{GENERATED}"]
    assert first.digest() == second.digest()  # another host, another made-up id: the same run
    assert first.per_operation() == {"GET /connection/v1/dossiers/{dossier_id}": 2,
                                     "POST /connection/v1/dossiers": 1}
    assert first.per_phase() == {"stateful": 3}


def test_a_different_generated_body_changes_the_digest() -> None:
    assert run(MADE_UP).digest() != run(MADE_UP, body_name="Bình").digest()


def test_a_case_replayed_in_another_scenario_counts_once() -> None:
    log = run(MADE_UP)
    log.add_scenario("stateful", "x", recorder(
        ("a", interaction("POST", "https://127.0.0.1:1/connection/v1/dossiers", {"name": "An"}))))
    assert len(log.requests) == 3
    assert log.text().count("\n") == 3
