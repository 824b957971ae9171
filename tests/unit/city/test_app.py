"""The connection API in process (Starlette TestClient, no NPDB): status codes, errors, switches."""

from __future__ import annotations

import copy
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from popcert_city.app import CityApi, build_app
from popcert_city.auth import TokenValidator
from popcert_city.ratelimit import RateLimiter
from popcert_city.spec import reference_spec
from popcert_city.store import DossierStore
from popcert_city.webhook import NotificationVerifier, sign

BASE = "/connection/v1"
BIRTH: dict[str, Any] = reference_spec()["components"]["examples"]["BirthDossierCreate"]["value"]
SECRET = "sub-secret"


@pytest.fixture
def api(tmp_path: Path, minter) -> TestClient:  # type: ignore[no-untyped-def]
    async def fetch(url: str) -> dict[str, Any]:
        return minter.public_jwks()
    store = DossierStore(tmp_path / "city.sqlite3")
    store.add_subscription("sub-1", SECRET)
    city = CityApi(store=store, validator=TokenValidator(issuer=minter.issuer, audience="connection-api",
                                                        jwks_url="x", fetch_jwks=fetch),
                   limiter=RateLimiter(0.001, 15), verifier=NotificationVerifier(store.subscription_secrets),
                   worker=None, npdb=None, base_url="https://127.0.0.1:1")
    return TestClient(build_app(city), raise_server_exceptions=False)


def auth(minter, client: str = "portal", scopes: str = "dossier.submit dossier.read") -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {"Authorization": f"Bearer {minter.mint(client, scopes)}"}


def submit(api: TestClient, minter, body: Any = None, client: str = "portal", **headers: str):  # type: ignore[no-untyped-def]
    return api.post(f"{BASE}/dossiers", json=BIRTH if body is None else body,
                    headers={**auth(minter, client), **headers})


def test_submit_get_list(api, minter) -> None:  # type: ignore[no-untyped-def]
    created = submit(api, minter)
    assert created.status_code == 201
    dossier = created.json()
    uuid.UUID(dossier["dossier_id"], version=4)
    assert dossier["status"] == "received" and dossier["applicant"]["date_of_birth"] == "1990-05-17"
    got = api.get(f"{BASE}/dossiers/{dossier['dossier_id']}", headers=auth(minter))
    assert got.status_code == 200 and got.headers["content-type"] == "application/json"
    listed = api.get(f"{BASE}/dossiers", params={"status": "received"}, headers=auth(minter)).json()
    assert listed["count"] == 1


def test_errors_use_error_schema(api, minter) -> None:  # type: ignore[no-untyped-def]
    assert api.post(f"{BASE}/dossiers", json=BIRTH).status_code == 401
    bad = copy.deepcopy(BIRTH)
    bad["applicant"]["personal_id"] = "00119012345"
    response = submit(api, minter, bad)
    assert response.status_code == 422
    assert set(response.json()) == {"error", "message", "request_id", "fields"}
    assert response.json()["fields"] == ["/applicant/personal_id"]
    assert submit(api, minter, {"procedure_code": "9.999"}).status_code == 422
    raw = api.post(f"{BASE}/dossiers", content=b"{not json", headers={**auth(minter), "content-type": "application/json"})
    assert raw.status_code == 400 and "Traceback" not in raw.text
    assert api.post(f"{BASE}/dossiers", content=b"x", headers={**auth(minter), "content-type": "text/plain"}).status_code == 415
    assert api.get(f"{BASE}/dossiers", params={"limit": "0"}, headers=auth(minter)).status_code == 422
    assert api.get(f"{BASE}/dossiers/not-a-uuid", headers=auth(minter)).status_code == 404
    assert api.delete(f"{BASE}/dossiers").status_code == 405


def test_scope_enforced(api, minter) -> None:  # type: ignore[no-untyped-def]
    response = api.post(f"{BASE}/dossiers", json=BIRTH, headers=auth(minter, "portal-readonly", "dossier.read"))
    assert response.status_code == 403


def test_other_clients_dossier_is_404_unless_bola(api, minter, switch) -> None:  # type: ignore[no-untyped-def]
    dossier_id = submit(api, minter).json()["dossier_id"]
    assert api.get(f"{BASE}/dossiers/{dossier_id}", headers=auth(minter, "portal-b")).status_code == 404
    assert api.get(f"{BASE}/dossiers", headers=auth(minter, "portal-b")).json()["count"] == 0
    switch("auth.bola")
    assert api.get(f"{BASE}/dossiers/{dossier_id}", headers=auth(minter, "portal-b")).status_code == 200


def test_idempotency_key(api, minter) -> None:  # type: ignore[no-untyped-def]
    first = submit(api, minter, **{"Idempotency-Key": "k-1"}).json()
    again = submit(api, minter, **{"Idempotency-Key": "k-1"})
    assert again.status_code == 201 and again.json()["dossier_id"] == first["dossier_id"]
    other = copy.deepcopy(BIRTH)
    other["details"]["child"]["full_name"] = "Khác"
    assert submit(api, minter, other, **{"Idempotency-Key": "k-1"}).status_code == 409


def test_rate_limit_per_client(api, minter, switch) -> None:  # type: ignore[no-untyped-def]
    headers = auth(minter)
    codes = [api.get(f"{BASE}/dossiers", headers=headers).status_code for _ in range(16)]
    assert codes[:15] == [200] * 15 and codes[-1] == 429
    limited = api.get(f"{BASE}/dossiers", headers=headers)
    assert int(limited.headers["Retry-After"]) >= 1
    assert api.get(f"{BASE}/dossiers", headers=auth(minter, "portal-b")).status_code == 200
    switch("auth.no_rate_limit")
    assert api.get(f"{BASE}/dossiers", headers=headers).status_code == 200


@pytest.mark.parametrize("name,probe", [
    ("conformance.undocumented_status", lambda api, m: submit(api, m).status_code == 200),
    ("conformance.accepts_invalid_input",
     lambda api, m: submit(api, m, _with(BIRTH, ("applicant", "personal_id"), "00119012345")).status_code == 201),
    ("conformance.server_error_on_bad_input",
     lambda api, m: submit(api, m, _with(BIRTH, ("applicant", "full_name"), "A" * 101)).status_code == 500),
    ("schema.dob_wrong_format", lambda api, m: submit(api, m).json()["applicant"]["date_of_birth"] == "17/05/1990"),
    ("conformance.wrong_content_type", lambda api, m: api.get(
        f"{BASE}/dossiers/{submit(api, m).json()['dossier_id']}", headers=auth(m)
    ).headers["content-type"].startswith("text/plain")),
    ("auth.leaky_errors", lambda api, m: "Traceback" in api.post(
        f"{BASE}/dossiers", content=b"{bad", headers={**auth(m), "content-type": "application/json"}).text),
    ("conformance.spec_drift", lambda api, m: "get" not in api.get("/openapi.json").json()["paths"][
        f"{BASE}/dossiers"]),
])
def test_conformance_switch_breaks_its_behaviour(api, minter, switch, name, probe) -> None:  # type: ignore[no-untyped-def]
    assert not probe(api, minter), f"{name}: compliant system already misbehaves"
    switch(name)
    assert probe(api, minter), f"{name}: switch had no effect"


def test_slow_path_and_errors_under_load(api, minter, switch) -> None:  # type: ignore[no-untyped-def]
    switch("load.errors_under_load")
    codes = [api.get(f"{BASE}/dossiers", headers=auth(minter, f"c{i}")).status_code for i in range(200)]
    assert 0 < codes.count(503) < 40
    switch("load.slow_path")
    started = time.monotonic()
    submit(api, minter)
    assert time.monotonic() - started >= 0.35


def test_notifications(api) -> None:  # type: ignore[no-untyped-def]
    body = (b'{"event_id":"e-1","type":"death","occurred_at":"2025-01-01T00:00:00Z",'
            b'"personal_id":"001045123456","data":{}}')
    header = sign(SECRET, body, int(time.time()))
    post = lambda h: api.post(f"{BASE}/notifications", content=body,
                              headers={"content-type": "application/json", **h})
    assert post({}).status_code == 401
    first = post({"X-NPDB-Signature": header})
    assert first.status_code == 200 and first.json()["status"] == "accepted"
    assert post({"X-NPDB-Signature": header}).status_code == 409
    again = post({"X-NPDB-Signature": sign(SECRET, body, int(time.time()) + 1)})
    assert again.status_code == 200 and again.json()["status"] == "duplicate"


def test_published_spec_matches_reference(api) -> None:  # type: ignore[no-untyped-def]
    published = api.get("/openapi.json").json()
    assert published["paths"] == reference_spec()["paths"]
    assert published["servers"][0]["url"] == "https://127.0.0.1:1"


def _with(body: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(body)
    target = changed
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return changed
