"""What the AUTH checks read from specs/connection/v1 (offline): scopes from each operation's
security requirements, the documented body limit, and the citizen-data fields of the request
bodies with an invalid value that still carries the citizen's data."""

from __future__ import annotations

import copy
import json

import pytest

from harness.suites.auth.access import _leaks
from harness.suites.auth.bodies import body_limit_bytes
from harness.suites.auth.spec import (
    citizen_fields,
    citizen_values,
    connection_spec,
    operations,
    required_scopes,
)
from harness.sut.dossiers import synthetic_people
from popcert_city.spec import dossier_errors

PEOPLE = synthetic_people(3, seed=13)


def test_scopes_come_from_each_operations_security_requirement() -> None:
    scoped = {(op.method, op.path): op.scopes for op in operations() if op.scopes}
    assert scoped == {
        ("POST", "/connection/v1/dossiers"): {"dossier.submit"},
        ("GET", "/connection/v1/dossiers"): {"dossier.read"},
        ("GET", "/connection/v1/dossiers/{dossier_id}"): {"dossier.read"},
    }


def test_an_operation_added_to_the_spec_is_covered_without_code() -> None:
    spec = copy.deepcopy(connection_spec())
    spec["paths"]["/connection/v1/dossiers/{dossier_id}"]["delete"] = {
        "operationId": "withdrawDossier", "security": [{"nationalToken": ["dossier.withdraw"]}],
        "responses": {"204": {"description": "withdrawn"}}}
    added = [op for op in operations(spec) if op.operation_id == "withdrawDossier"]
    assert added and added[0].scopes == {"dossier.withdraw"}


@pytest.mark.parametrize("security,expected", [
    ([{"nationalToken": ["a", "b"]}, {"nationalToken": ["a"], "portalCertificate": []}], {"a"}),
    ([{"nationalToken": []}], set()),
    ([{"nationalToken": ["a"]}, {}], set()),  # an anonymous alternative needs no scope
    ([], set()),
])
def test_required_scopes_are_what_every_alternative_needs(security, expected) -> None:  # type: ignore[no-untyped-def]
    assert required_scopes(security, "nationalToken") == expected


def test_body_limit_is_the_one_the_413_response_documents() -> None:
    assert body_limit_bytes() == 64 * 1024
    documented = {op.operation_id for op in operations() if op.documents(413)}
    assert documented == {"createDossier", "receiveNotification"}


def test_every_citizen_field_of_every_procedure_is_probed() -> None:
    pointers = {f.pointer for f in citizen_fields(PEOPLE)}
    for person in ("/applicant", "/details/mother", "/details/father", "/details/spouse_a",
                   "/details/spouse_b"):
        assert {f"{person}/personal_id", f"{person}/full_name", f"{person}/date_of_birth"} <= pointers
    assert {"/details/deceased_personal_id", "/details/child/personal_id",
            "/details/address/line", "/details/date_of_death"} <= pointers
    assert "/procedure_code" not in pointers  # a constant, not citizen data


def test_field_probes_break_only_their_field_and_still_carry_the_data() -> None:
    for field in citizen_fields(PEOPLE):
        assert dossier_errors(field.body) == [], field.pointer
        assert dossier_errors(field.mutated_body()) == [field.pointer]
        assert field.value in field.invalid
        assert field.value in citizen_values(field.body) or field.value in json.dumps(
            field.body, ensure_ascii=False)


def test_an_echoed_value_is_found_even_when_json_escapes_it() -> None:
    name = PEOPLE[0].full_name
    escaped = json.dumps({"error": "validation_error", "message": f"bad input {name}x"})
    assert "\\u" in escaped
    assert "citizen data" in _leaks(escaped, [name], "token")
    clean = json.dumps({"error": "validation_error", "message": "invalid input",
                        "fields": ["/applicant/full_name"]})
    assert _leaks(clean, [name, PEOPLE[0].personal_id], "token") == []
