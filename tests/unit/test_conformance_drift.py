"""CONF-SPEC-DRIFT's pure diff: breaking changes between the shared and the published spec."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from harness.suites.conformance.drift import breaking_changes


def shared_spec() -> dict[str, Any]:
    dossier = {
        "type": "object", "required": ["dossier_id", "status"],
        "properties": {
            "dossier_id": {"type": "string"},
            "status": {"type": "string", "enum": ["received", "pending_npdb", "completed"]},
            "reasons": {"type": "array", "items": {"type": "string"}}}}
    return {
        "openapi": "3.1.0", "servers": [{"url": "/connection/v1"}],
        "components": {"schemas": {"Dossier": dossier}},
        "paths": {
            "/dossiers": {"post": {
                "requestBody": {"content": {"application/json": {"schema": {
                    "type": "object", "required": ["procedure_code"],
                    "properties": {"procedure_code": {"type": "string",
                                                      "enum": ["1.001193", "1.000656"]},
                                   "details": {"type": "object"}}}}}},
                "responses": {"201": {"content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/Dossier"}}}}}}},
            "/dossiers/{dossier_id}": {"get": {
                "parameters": [{"name": "dossier_id", "in": "path", "required": True,
                                "schema": {"type": "string"}}],
                "responses": {"200": {"content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/Dossier"}}}}}}}}}


def test_identical_specs_have_no_drift() -> None:
    assert breaking_changes(shared_spec(), shared_spec()) == []


def test_full_paths_and_renamed_path_parameters_are_the_same_operation() -> None:
    published = copy.deepcopy(shared_spec())
    published["servers"] = [{"url": "https://127.0.0.1:8443"}]
    published["paths"] = {"/connection/v1" + p.replace("{dossier_id}", "{id}"): v
                          for p, v in published["paths"].items()}
    published["paths"]["/connection/v1/dossiers/{id}"]["get"]["parameters"][0]["name"] = "id"
    assert [d.kind for d in breaking_changes(shared_spec(), published)] == []


def test_removed_operation_is_breaking() -> None:
    published = shared_spec()
    del published["paths"]["/dossiers/{dossier_id}"]
    drifts = breaking_changes(shared_spec(), published)
    assert [(d.kind, d.location) for d in drifts] == [
        ("removed_operation", "GET /connection/v1/dossiers/{dossier_id}")]


def test_response_field_no_longer_required_is_breaking() -> None:
    published = shared_spec()
    published["components"]["schemas"]["Dossier"]["required"] = ["dossier_id"]
    kinds = {(d.kind, d.location.split(" response ")[-1]) for d in
             breaking_changes(shared_spec(), published)}
    assert kinds == {("no_longer_required", "201.status"), ("no_longer_required", "200.status")}


def test_request_field_newly_required_is_breaking_but_optional_addition_is_not() -> None:
    published = shared_spec()
    body = published["paths"]["/dossiers"]["post"]["requestBody"]["content"]["application/json"]
    body["schema"]["properties"]["channel"] = {"type": "string"}
    assert breaking_changes(shared_spec(), published) == []
    body["schema"]["required"] = ["procedure_code", "details"]
    drifts = breaking_changes(shared_spec(), published)
    assert [(d.kind, d.location) for d in drifts] == [
        ("newly_required", "POST /connection/v1/dossiers request body.details")]


def test_narrowed_request_enum_and_changed_type_are_breaking() -> None:
    published = shared_spec()
    props = (published["paths"]["/dossiers"]["post"]["requestBody"]["content"]
             ["application/json"]["schema"]["properties"])
    props["procedure_code"]["enum"] = ["1.001193"]
    published["components"]["schemas"]["Dossier"]["properties"]["reasons"]["items"] = {
        "type": "object"}
    drifts = {(d.kind, d.location) for d in breaking_changes(shared_spec(), published)}
    assert ("enum_narrowed", "POST /connection/v1/dossiers request body.procedure_code") in drifts
    assert ("type_changed", "GET /connection/v1/dossiers/{dossier_id} response 200.reasons[]") \
        in drifts


def test_widened_response_enum_is_breaking() -> None:
    published = shared_spec()
    published["components"]["schemas"]["Dossier"]["properties"]["status"]["enum"].append("lost")
    assert {d.kind for d in breaking_changes(shared_spec(), published)} == {"enum_widened"}


# --- issue 24, item 4: a published document that describes nothing, or is malformed --------------

def _shared() -> dict[str, Any]:
    from harness.suites.conformance.spec import load_spec

    return copy.deepcopy(load_spec())


def hollow(shared: dict[str, Any], templated: bool = True) -> dict[str, Any]:
    """Every shared operation present as ``{}`` (the issue's 344-byte document)."""
    paths = {(p if templated else p.replace("{", "").replace("}", "")):
             {m: {} for m in item if m in ("get", "put", "post", "delete", "patch")}
             for p, item in shared["paths"].items()}
    return {"openapi": "3.1.0", "info": {"title": "x", "version": "1"},
            "servers": shared["servers"], "paths": paths}


def test_the_reference_systems_published_spec_has_no_drift() -> None:
    from harness.suites.conformance.drift import assess
    from popcert_city import defects
    from popcert_city.spec import published_spec

    defects.configure(frozenset())
    assert assess(_shared(), published_spec("https://127.0.0.1:8443")) == []


def test_the_spec_drift_defect_still_drifts() -> None:
    from harness.suites.conformance.drift import assess
    from popcert_city import defects
    from popcert_city.spec import published_spec

    defects.configure(frozenset({"conformance.spec_drift"}))
    try:
        kinds = {d.kind for d in assess(_shared(), published_spec("https://127.0.0.1:8443"))}
    finally:
        defects.configure(frozenset())
    assert kinds == {"removed_operation", "no_longer_required"}


def test_operations_published_as_empty_objects_are_breaking_part_by_part() -> None:
    from harness.suites.conformance.drift import assess

    shared = _shared()
    document = hollow(shared, templated=False)  # valid OpenAPI: only the paths are renamed
    drifts = assess(shared, document)
    kinds = {d.kind for d in drifts}
    assert {"missing_parameter", "missing_request_body", "missing_response"} <= kinds
    assert ("POST /connection/v1/dossiers request body", "missing_request_body") in {
        (d.location, d.kind) for d in drifts}
    # with the paths kept, the same hollow document is not even valid OpenAPI
    [invalid] = assess(shared, hollow(shared))
    assert invalid.kind == "invalid_document" and "dossier_id" in invalid.detail
    assert len(json.dumps(hollow(shared))) < 500


def test_a_schema_that_describes_less_is_breaking() -> None:
    shared = shared_spec()
    published = shared_spec()
    dossier = published["components"]["schemas"]["Dossier"]
    del dossier["properties"]["reasons"]["items"]
    del dossier["properties"]["status"]["enum"]
    del dossier["properties"]["dossier_id"]["type"]
    body = published["paths"]["/dossiers"]["post"]["requestBody"]["content"]["application/json"]
    del body["schema"]["properties"]["details"]
    published["paths"]["/dossiers/{dossier_id}"]["get"]["responses"]["200"] = {
        "description": "no body described"}
    del published["paths"]["/dossiers/{dossier_id}"]["get"]["parameters"][0]["schema"]
    found = {(d.kind, d.location) for d in breaking_changes(shared, published)}
    assert {("missing_items", "POST /connection/v1/dossiers response 201.reasons[]"),
            ("enum_widened", "POST /connection/v1/dossiers response 201.status"),
            ("missing_type", "POST /connection/v1/dossiers response 201.dossier_id"),
            ("missing_property", "POST /connection/v1/dossiers request body.details"),
            ("missing_response_body", "GET /connection/v1/dossiers/{dossier_id} response 200"),
            ("missing_schema", "GET /connection/v1/dossiers/{dossier_id} path parameter #0"),
            } <= found


def _deep(levels: int) -> dict[str, Any]:
    node: dict[str, Any] = {}
    top = node
    for _ in range(levels):
        node["x"] = {}
        node = node["x"]
    return top


INFO = {"title": "x", "version": "1"}


@pytest.mark.parametrize(("document", "named"), [
    ({"openapi": "3.1.0", "info": INFO, "paths": {"/a": [1, 2]}}, "/paths/~1a"),
    ({"openapi": "3.1.0", "info": INFO, "servers": "https://x", "paths": {}}, "/servers"),
    ({"openapi": "3.1.0", "info": INFO, "paths": {"/a": {"get": {
        "parameters": 5, "responses": {"200": {"description": "x"}}}}}}, "parameters"),
    ({"openapi": "3.1.0", "info": INFO, "paths": {"/a": {"get": {"responses": {
        "200": {"$ref": "http://127.0.0.1:9/stolen"}}}}}}, "external $ref"),
    ({"openapi": "3.1.0", "info": INFO, "paths": {"/a": {"get": {"responses": {
        "200": {"$ref": "file:///etc/passwd"}}}}}}, "external $ref"),
    ({"openapi": "3.1.0", "info": INFO, "paths": {}, "x-deep": _deep(500)}, "levels deep"),
    ({"openapi": "3.1.0", "info": INFO, "paths": {}, "x-big": [[0] * 1000] * 300},
     "too large"),
    ({"paths": {}}, "version"),
    ({"openapi": "3.1.0", "paths": {}}, "info"),
    ([1, 2, 3], "not a JSON object"),
])
def test_a_malformed_document_fails_naming_the_error(document: Any, named: str) -> None:
    from harness.suites.conformance.drift import assess

    [drift] = assess(_shared(), document)
    assert drift.kind == "invalid_document"
    assert named in drift.detail and drift.detail.startswith("not a valid OpenAPI document")
    assert len(drift.detail) <= 400 and "\x1b" not in drift.detail


def test_the_check_fails_on_an_invalid_document_naming_the_validator_error() -> None:
    from harness.checks import Status
    from harness.suites.conformance import checks
    from harness.suites.conformance.context import PublishedSpec
    from harness.suites.conformance.drift import assess
    from tests.unit.test_conformance_latency import context

    url = "https://127.0.0.1:8443/openapi.json"
    document = {"openapi": "3.1.0", "info": INFO, "servers": "https://x", "paths": {"/a": [1]}}
    published = PublishedSpec(url=url, document=document, drifts=assess(_shared(), document))
    result = checks.spec_drift(context(published=published))
    assert result.status == Status.FAIL
    assert "not a valid OpenAPI document" in result.summary and "(at /" in result.summary
    hollow_published = PublishedSpec(url=url, document=hollow(_shared(), templated=False),
                                     drifts=assess(_shared(), hollow(_shared(), False)))
    result = checks.spec_drift(context(published=hollow_published))
    assert result.status == Status.FAIL and "breaking change(s)" in result.summary
