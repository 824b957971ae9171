"""Issue 20's switches in process: each documented status holds on the compliant system and breaks
only under its switch (another client's dossier 404, another client's Idempotency-Key unrelated,
undocumented DELETE, 415 and 422 on POST /dossiers and the webhook, the 413 Error body, the
per-client rate limit)."""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from popcert_city.app import CityApi, build_app
from popcert_city.auth import TokenValidator
from popcert_city.ratelimit import RateLimiter
from popcert_city.store import DossierStore
from popcert_city.webhook import NotificationVerifier, sign
from tests.unit.city.test_app import BASE, BIRTH, SECRET, auth, submit

EVENT = {"event_id": "x-1", "type": "death", "occurred_at": "2025-01-01T00:00:00Z",
         "personal_id": "001045123456", "data": {}}


def _notify(api: TestClient, event: Any, content_type: str = "application/json") -> Any:
    body = json.dumps(event).encode()
    return api.post(f"{BASE}/notifications", content=body, headers={
        "content-type": content_type, "X-NPDB-Signature": sign(SECRET, body, int(time.time()))})


def _fresh_app(tmp_path: Path, minter: Any, name: str) -> TestClient:
    """test_app's in-process system, built now (routes depend on the switches at build time)."""
    async def fetch(url: str) -> dict[str, Any]:
        return dict(minter.public_jwks())
    store = DossierStore(tmp_path / f"{name}.sqlite3")
    store.add_subscription("sub-1", SECRET)
    city = CityApi(store=store, validator=TokenValidator(issuer=minter.issuer, audience="connection-api",
                                                        jwks_url="x", fetch_jwks=fetch),
                   limiter=RateLimiter(0.001, 15), verifier=NotificationVerifier(store.subscription_secrets),
                   worker=None, npdb=None, base_url="https://127.0.0.1:1")
    return TestClient(build_app(city), raise_server_exceptions=False)


def test_foreign_dossier_is_404_unless_403_switch(api, minter, switch) -> None:  # type: ignore[no-untyped-def]
    dossier_id = submit(api, minter).json()["dossier_id"]
    path = f"{BASE}/dossiers/{dossier_id}"
    assert api.get(path, headers=auth(minter, "portal-b")).status_code == 404
    switch("auth.foreign_dossier_403")
    assert api.get(path, headers=auth(minter, "portal-b")).status_code == 403
    assert api.get(path, headers=auth(minter)).status_code == 200


def test_another_clients_key_is_unrelated_unless_conflict_switch(api, minter, switch) -> None:  # type: ignore[no-untyped-def]
    submit(api, minter, **{"Idempotency-Key": "k-1"})
    assert submit(api, minter, client="portal-b", **{"Idempotency-Key": "k-1"}).status_code == 201
    switch("auth.idempotency_tenant_conflict")
    submit(api, minter, **{"Idempotency-Key": "k-2"})
    assert submit(api, minter, client="portal-b", **{"Idempotency-Key": "k-2"}).status_code == 409
    assert submit(api, minter, client="portal-b", **{"Idempotency-Key": "k-3"}).status_code == 201


def test_delete_is_405_unless_undocumented_delete(tmp_path: Path, minter, switch) -> None:  # type: ignore[no-untyped-def]
    api = _fresh_app(tmp_path, minter, "off")
    dossier_id = submit(api, minter).json()["dossier_id"]
    path = f"{BASE}/dossiers/{dossier_id}"
    refused = api.delete(path, headers=auth(minter))
    # the Allow list is a set (RFC 9110: no order); starlette's order follows the hash seed
    assert refused.status_code == 405
    assert sorted(m.strip() for m in refused.headers["allow"].split(",")) == ["GET", "HEAD"]
    assert api.request("TRACE", f"{BASE}/health").status_code == 405
    switch("auth.undocumented_delete")
    api = _fresh_app(tmp_path, minter, "on")
    dossier_id = submit(api, minter).json()["dossier_id"]
    path = f"{BASE}/dossiers/{dossier_id}"
    assert api.delete(path, headers=auth(minter, "portal-b")).status_code == 404
    assert api.delete(path, headers=auth(minter)).status_code == 200
    assert api.get(path, headers=auth(minter)).status_code == 404


def test_text_plain_is_415_unless_any_media_type(api, minter, switch) -> None:  # type: ignore[no-untyped-def]
    as_text = {**auth(minter), "content-type": "text/plain"}
    refused = api.post(f"{BASE}/dossiers", content=json.dumps(BIRTH).encode(), headers=as_text)
    assert refused.status_code == 415 and refused.json()["error"] == "unsupported_media_type"
    assert _notify(api, {**EVENT, "event_id": "m-1"}, "text/plain").status_code == 415
    switch("auth.dossier_any_media_type")
    assert api.post(f"{BASE}/dossiers", content=json.dumps(BIRTH).encode(),
                    headers=as_text).status_code == 201
    assert _notify(api, {**EVENT, "event_id": "m-2"}, "text/plain").status_code == 415
    switch("auth.notification_any_media_type")
    assert _notify(api, {**EVENT, "event_id": "m-3"}, "text/plain").status_code == 200


def test_unsigned_text_plain_is_still_401(api) -> None:  # type: ignore[no-untyped-def]
    """The signature first: an unauthenticated caller learns nothing about what is accepted."""
    response = api.post(f"{BASE}/notifications", content=b"x", headers={"content-type": "text/plain"})
    assert response.status_code == 401


def test_schema_breaking_is_422_unless_switches(api, minter, switch) -> None:  # type: ignore[no-untyped-def]
    no_details = {k: v for k, v in copy.deepcopy(BIRTH).items() if k != "details"}
    assert submit(api, minter, no_details).status_code == 422
    broken = {k: v for k, v in EVENT.items() if k != "personal_id"}
    assert _notify(api, {**broken, "event_id": "v-1"}).status_code == 422
    assert _notify(api, [EVENT]).status_code == 422
    switch("auth.validation_400")
    assert submit(api, minter, no_details).status_code == 400
    assert _notify(api, {**broken, "event_id": "v-2"}).status_code == 422
    switch("auth.notification_schema_unchecked")
    assert _notify(api, {**broken, "event_id": "v-3"}).status_code == 200
    assert _notify(api, [{**EVENT, "event_id": "v-4"}]).status_code == 200


def test_413_is_the_error_body_unless_html_switch(api, minter, switch) -> None:  # type: ignore[no-untyped-def]
    padded = json.dumps(BIRTH).encode() + b" " * (64 * 1024 + 512)
    headers = {**auth(minter), "content-type": "application/json"}
    response = api.post(f"{BASE}/dossiers", content=padded, headers=headers)
    assert response.status_code == 413 and response.json()["error"] == "payload_too_large"
    switch("auth.body_limit_html_413")
    response = api.post(f"{BASE}/dossiers", content=padded, headers=headers)
    assert response.status_code == 413 and response.headers["content-type"].startswith("text/html")


def test_rate_limit_is_per_client_unless_global(api, minter, switch) -> None:  # type: ignore[no-untyped-def]
    switch("auth.global_rate_limit")
    codes = [api.get(f"{BASE}/dossiers", headers=auth(minter)).status_code for _ in range(16)]
    assert codes[-1] == 429
    assert api.get(f"{BASE}/dossiers", headers=auth(minter, "portal-b")).status_code == 429
