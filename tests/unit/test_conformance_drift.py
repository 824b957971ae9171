"""CONF-SPEC-DRIFT's pure diff: breaking changes between the shared and the published spec."""

from __future__ import annotations

import copy
from typing import Any

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
