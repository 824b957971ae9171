"""Data API in process (no sockets): minimisation by scope ∩ purpose ∩ fields, every error class,
fault injection and the audit entry of each call."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from popcert_npdb.app import build_data_app
from popcert_npdb.faults import FaultSpec
from popcert_npdb.purposes import CITIZEN_FIELDS, load_purposes
from popcert_npdb.server import build_state
from popcert_npdb.state import MockState
from popcert_npdb.tokens import TokenMinter

ALL_SCOPES = "citizen.read identity.verify household.read residence.read notification.subscribe"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Any:
    state_dir = tmp_path_factory.mktemp("npdb")
    state = build_state(Path(state_dir), population=20_000, seed=6, mtls="off")
    client = TestClient(build_data_app(state), base_url="https://testserver")
    minter = TokenMinter(state_dir)
    yield state, client, minter
    client.close()


def headers(minter: TokenMinter, scopes: str = ALL_SCOPES, purpose: str | None = "1.001193",
            client_id: str = "city-system", request_id: str | None = None,
            **claims: Any) -> dict[str, str]:
    out = {"Authorization": "Bearer " + minter.mint(client_id, scopes, audience="npdb", **claims),
           "X-Request-Id": request_id or str(uuid.uuid4())}
    if purpose is not None:
        out["X-Purpose-Code"] = purpose
    return out


def test_citizen_fields_are_scope_purpose_and_request_minimised(env: Any) -> None:
    state, client, minter = env
    citizen = state.population.citizen(1234)
    url = f"/npdb/v1/citizens/{citizen.personal_id}"
    for code, purpose in load_purposes().items():
        body = client.get(url, headers=headers(minter, purpose=code)).json()
        assert set(body) == set(purpose.fields), code
        assert all(body[k] == citizen.to_dict()[k] for k in body)
    body = client.get(url + "?fields=full_name,religion",
                      headers=headers(minter, purpose="1.001193")).json()
    assert body == {"full_name": citizen.full_name}  # religion is not needed for a birth registration
    residence_only = client.get(url, headers=headers(minter, scopes="citizen.read"))
    assert residence_only.status_code == 200
    denied = client.get(url, headers=headers(minter, scopes="identity.verify"))
    assert denied.status_code == 403 and denied.json()["error"] == "insufficient_scope"


def test_purpose_not_registered_for_client_is_forbidden(env: Any) -> None:
    state, client, minter = env
    pid = state.population.citizen(5).personal_id
    resp = client.get(f"/npdb/v1/citizens/{pid}",
                      headers=headers(minter, client_id="district-office", purpose="1.000656"))
    assert resp.status_code == 403 and resp.json()["error"] == "purpose_not_allowed"
    ok = client.get(f"/npdb/v1/citizens/{pid}",
                    headers=headers(minter, client_id="district-office", purpose="1.001193"))
    assert ok.status_code == 200


@pytest.mark.parametrize("mutate, status, code", [
    (lambda h: h.pop("Authorization"), 401, "unauthorized"),
    (lambda h: h.update(Authorization="Bearer not.a.jwt"), 401, "invalid_token"),
    (lambda h: h.pop("X-Purpose-Code"), 400, "missing_purpose_code"),
    (lambda h: h.pop("X-Request-Id"), 400, "missing_request_id"),
    (lambda h: h.update({"X-Request-Id": "nope"}), 400, "invalid_request_id"),
    (lambda h: h.update({"X-Purpose-Code": "9.999999"}), 403, "purpose_not_allowed"),
])
def test_error_classes(env: Any, mutate: Any, status: int, code: str) -> None:
    state, client, minter = env
    h = headers(minter)
    mutate(h)
    resp = client.get(f"/npdb/v1/citizens/{state.population.citizen(1).personal_id}", headers=h)
    assert resp.status_code == status
    body = resp.json()
    assert body["error"] == code and body["message"] and "request_id" in body


def test_invalid_and_unknown_ids(env: Any) -> None:
    _, client, minter = env
    bad = client.get("/npdb/v1/citizens/12345", headers=headers(minter))
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_personal_id"
    unknown = client.get("/npdb/v1/citizens/999999999999", headers=headers(minter))
    assert unknown.status_code == 404 and unknown.json()["error"] == "not_found"
    fields = client.get("/npdb/v1/citizens/001090000000?fields=salary", headers=headers(minter))
    assert fields.status_code == 400 and fields.json()["error"] == "invalid_fields"
    household = client.get("/npdb/v1/households/XX", headers=headers(minter))
    assert household.status_code == 400


def test_identity_verify_returns_no_more_than_sent(env: Any) -> None:
    state, client, minter = env
    c = state.population.citizen(42)
    url = "/npdb/v1/identity/verify"
    ok = client.post(url, headers=headers(minter), json={
        "personal_id": c.personal_id, "full_name": c.full_name.upper(), "date_of_birth": c.date_of_birth})
    assert ok.json() == {"match": True, "mismatched_fields": []}
    wrong = client.post(url, headers=headers(minter), json={
        "personal_id": c.personal_id, "full_name": "Không Ai Cả", "date_of_birth": "1900-01-01"})
    assert wrong.json() == {"match": False, "mismatched_fields": ["full_name", "date_of_birth"]}
    assert client.post(url, headers=headers(minter), content=b"{").status_code == 400
    assert client.post(url, headers=headers(minter), json={"personal_id": c.personal_id}).status_code == 422
    assert client.post(url, headers=headers(minter), json={
        "personal_id": c.personal_id, "full_name": "x", "date_of_birth": "2001-02-30"}).status_code == 422


def test_household_and_residence(env: Any) -> None:
    state, client, minter = env
    c = state.population.sample("child_with_parents", 1, rng_seed=4)[0]
    household = client.get(f"/npdb/v1/households/{c.household_id}", headers=headers(minter)).json()
    assert {"personal_id": c.personal_id, "relation_to_head": c.relation_to_head} in household["members"]
    funeral = client.get(f"/npdb/v1/households/{c.household_id}",
                         headers=headers(minter, purpose="1.000894"))
    assert funeral.status_code == 403  # marriage registration may not read household composition
    residence = client.get(f"/npdb/v1/citizens/{c.personal_id}/residence",
                           headers=headers(minter, purpose="1.004194")).json()
    assert residence["permanent_residence"] == c.permanent_residence
    assert set(residence) <= {"personal_id", "permanent_residence", "temporary_residence",
                              "current_address"}


def test_subscription_callbacks_must_be_loopback(env: Any) -> None:
    _, client, minter = env
    url = "/npdb/v1/subscriptions"
    far = client.post(url, headers=headers(minter), json={"callback_url": "https://example.org/hook",
                                                          "events": ["death"]})
    assert far.status_code == 422 and far.json()["error"] == "callback_not_allowed"
    near = client.post(url, headers=headers(minter), json={
        "callback_url": "https://127.0.0.1:9/hook", "events": ["death", "birth"]})
    assert near.status_code == 201 and len(near.json()["secret"]) >= 32


def test_faults_and_audit(env: Any) -> None:
    state, client, minter = env
    state: MockState
    pid = state.population.citizen(7).personal_id
    url = f"/npdb/v1/citizens/{pid}"
    state.faults.add(FaultSpec(endpoint="/npdb/v1/citizens/{personal_id}", kind="status",
                               status=503, count=1))
    state.faults.add(FaultSpec(endpoint="*", kind="rate_limit", count=1, retry_after_s=7))
    state.faults.add(FaultSpec(endpoint="/npdb/v1/citizens/{personal_id}", kind="malformed", count=1))
    assert client.get(url, headers=headers(minter)).status_code == 503
    limited = client.get(url, headers=headers(minter))
    assert limited.status_code == 429 and limited.headers["retry-after"] == "7"
    malformed = client.get(url, headers=headers(minter))
    assert malformed.status_code == 200 and malformed.content == b'{"match": tru'
    request_id = str(uuid.uuid4())
    assert client.get(url + "?fields=full_name,religion",
                      headers=headers(minter, request_id=request_id)).status_code == 200
    state.faults.clear()
    [entry] = state.audit.query(request_id=request_id)
    assert entry["client_id"] == "city-system" and entry["purpose_code"] == "1.001193"
    assert entry["endpoint"] == "/npdb/v1/citizens/{personal_id}" and entry["status"] == 200
    assert entry["personal_ids"] == [pid]
    assert entry["fields_requested"] == ["full_name", "religion"]
    assert entry["fields_returned"] == ["full_name"]
    assert entry["auth_method"].startswith("bearer")


def test_rate_limit_gives_429_with_retry_after(env: Any) -> None:
    state, client, minter = env
    state.set_rate_limit(2, client_id="city-system")
    try:
        statuses = [client.get("/npdb/v1/citizens/999999999999", headers=headers(minter))
                    for _ in range(5)]
        limited = [r for r in statuses if r.status_code == 429]
        assert limited and int(limited[0].headers["retry-after"]) >= 1
    finally:
        state.set_rate_limit(5000)


def test_field_universe_matches_purposes() -> None:
    for purpose in load_purposes().values():
        assert set(purpose.fields) <= set(CITIZEN_FIELDS)
