"""Issue 20's exact statuses, offline: which (method, path) pairs the spec does not document, the
bodies that break a request schema (and only it), what makes an error the spec's Error body, and
when a 404 for another client's dossier still tells it apart from a missing one."""

from __future__ import annotations

import copy
import json
import random
import uuid

import pytest

from harness.checks import Status
from harness.net import Exchange
from harness.suites.auth.access import _not_found_differs
from harness.suites.auth.methods import undocumented
from harness.suites.auth.probe import Probe, error_body_problem, expect_documented_error
from harness.suites.auth.spec import connection_spec, documented_methods, schema_breaking
from harness.sut.dossiers import RESIDENCE, dossier_body, synthetic_people
from popcert_city.spec import dossier_errors, notification_errors

URL = "https://127.0.0.1:1/connection/v1/dossiers"
ERROR = {"error": "unsupported_media_type", "message": "body must be application/json",
         "request_id": str(uuid.uuid4())}
EVENT = {"event_id": "evt-1", "type": "death", "occurred_at": "2024-03-03T08:00:00Z",
         "personal_id": "001045123456", "data": {"date_of_death": "2024-03-01"}}


def _exchange(status: int, body: object, content_type: str = "application/json") -> Exchange:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Exchange("POST", URL, {}, status=status, body=raw,
                    headers={"content-type": content_type})


def test_every_method_a_path_does_not_document_is_probed() -> None:
    pairs = set(undocumented(documented_methods()))
    assert ("DELETE", "/connection/v1/dossiers/{dossier_id}") in pairs
    assert ("GET", "/connection/v1/notifications") in pairs
    assert ("HEAD", "/connection/v1/notifications") in pairs  # no GET there: HEAD is no read
    assert ("POST", "/connection/v1/health") in pairs and ("TRACE", "/connection/v1/health") in pairs
    documented = {(m, p) for p, methods in documented_methods().items() for m in methods}
    assert not pairs & documented
    assert ("HEAD", "/connection/v1/dossiers") not in pairs  # RFC 9110: the GET without content
    assert not {m for m, _ in pairs} & {"OPTIONS", "CONNECT"}
    assert len(pairs) == 20


def test_a_method_added_to_the_spec_is_no_longer_probed() -> None:
    spec = copy.deepcopy(connection_spec())
    spec["paths"]["/connection/v1/dossiers/{dossier_id}"]["delete"] = {"responses": {}}
    pairs = undocumented(documented_methods(spec))
    assert ("DELETE", "/connection/v1/dossiers/{dossier_id}") not in pairs


@pytest.mark.parametrize(("valid", "schema", "errors"), [
    (EVENT, "Notification", notification_errors),
    (dossier_body(RESIDENCE, synthetic_people(1, 3)[0], random.Random(3)), "DossierCreate",
     dossier_errors),
])
def test_schema_breaking_bodies_break_the_schema_and_nothing_else(valid, schema, errors) -> None:  # type: ignore[no-untyped-def]
    assert errors(valid) == []  # the reference system's validator, from the same spec
    variants = schema_breaking(valid, schema)
    assert len(variants) >= 4
    for description, body in variants:
        json.dumps(body)  # well-formed JSON, so the answer is 422 and never 400
        assert errors(body), description


def test_notification_variants_cover_required_enum_and_pattern_but_not_format() -> None:
    described = [d for d, _ in schema_breaking(EVENT, "Notification")]
    assert {f"without its required {p}" for p in
            ("event_id", "type", "occurred_at", "personal_id")} <= set(described)
    assert "with type outside its documented values" in described
    assert "with personal_id not matching its pattern" in described
    assert not any("occurred_at" in d and "without" not in d for d in described)  # format only


@pytest.mark.parametrize(("exchange", "problem"), [
    (_exchange(415, ERROR), None),
    (_exchange(422, {**ERROR, "fields": ["/personal_id"]}), None),
    (_exchange(413, b"<html>413</html>", "text/html"), "not application/json"),
    (_exchange(415, {"detail": "unsupported"}), "not the spec's Error"),
    (_exchange(415, {**ERROR, "error": "teapot"}), "/error fails 'enum'"),
    (_exchange(415, {**ERROR, "trace": "x"}), "additionalProperties"),
    (_exchange(415, b"not json"), "not JSON"),
])
def test_error_body_is_the_specs_error(exchange: Exchange, problem: str | None) -> None:
    found = error_body_problem(exchange)
    assert (found is None) if problem is None else (found is not None and problem in found)


def test_the_documented_status_with_another_body_fails() -> None:
    html = Probe("padded body", _exchange(413, b"<html></html>", "text/html"))
    result = expect_documented_error([html], 413, what="oversize", accepted_means="processed")
    assert result.status == Status.FAIL and "text/html" in result.summary
    other = Probe("padded body", _exchange(400, ERROR))
    assert expect_documented_error([other], 413, what="oversize",
                                   accepted_means="processed").status == Status.FAIL
    good = Probe("padded body", _exchange(413, {**ERROR, "error": "payload_too_large"}))
    assert expect_documented_error([good], 413, what="oversize",
                                   accepted_means="processed").status == Status.PASS


def test_a_404_that_tells_another_clients_dossier_apart_is_caught() -> None:
    mine, missing = str(uuid.uuid4()), str(uuid.uuid4())
    alike = {"error": "not_found", "message": f"dossier {mine} not found"}
    assert _not_found_differs(alike, mine, {"error": "not_found",
                                            "message": f"dossier {missing} not found"}, missing) is None
    told = {"error": "not_found", "message": "dossier belongs to another client"}
    assert _not_found_differs(told, mine, {"error": "not_found", "message": "dossier not found"},
                              missing) == "`message`"
    assert _not_found_differs({"error": "forbidden"}, mine, {"error": "not_found"},
                              missing) == "`error`"
    assert _not_found_differs(None, mine, {"error": "not_found"}, missing) is None
