"""Issue 13's switches in process: each rule holds on the compliant system and breaks only under
its switch (list access, idempotency per client, read scope, body limit, notification freshness
and redelivery, validation errors that echo input)."""

from __future__ import annotations

import copy
import json
import time

from popcert_city.webhook import sign
from tests.unit.city.test_app import BASE, BIRTH, SECRET, auth, submit


def _listed_ids(api, minter, client: str) -> set[str]:  # type: ignore[no-untyped-def]
    listed = api.get(f"{BASE}/dossiers", params={"limit": "100"}, headers=auth(minter, client))
    return {d["dossier_id"] for d in listed.json()["items"]}


def test_list_shows_only_own_dossiers_unless_bola_list(api, minter, switch) -> None:  # type: ignore[no-untyped-def]
    dossier_id = submit(api, minter).json()["dossier_id"]
    assert dossier_id in _listed_ids(api, minter, "portal")
    assert dossier_id not in _listed_ids(api, minter, "portal-b")
    switch("auth.bola_list")
    assert dossier_id in _listed_ids(api, minter, "portal-b")


def test_idempotency_key_is_per_client_unless_shared(api, minter, switch) -> None:  # type: ignore[no-untyped-def]
    first = submit(api, minter, **{"Idempotency-Key": "shared-1"}).json()["dossier_id"]
    other = submit(api, minter, client="portal-b", **{"Idempotency-Key": "shared-1"})
    assert other.status_code == 201 and other.json()["dossier_id"] != first
    switch("auth.idempotency_shared")
    leaked = submit(api, minter, client="portal-b", **{"Idempotency-Key": "shared-2"})
    assert leaked.status_code == 201  # no earlier use of shared-2: a new dossier
    submit(api, minter, **{"Idempotency-Key": "shared-3"})
    assert submit(api, minter, client="portal-b",
                  **{"Idempotency-Key": "shared-3"}).json()["dossier_id"] != leaked.json()["dossier_id"]
    mine = submit(api, minter, **{"Idempotency-Key": "shared-4"}).json()["dossier_id"]
    assert submit(api, minter, client="portal-b",
                  **{"Idempotency-Key": "shared-4"}).json()["dossier_id"] == mine


def test_replay_returns_the_same_dossier_unless_key_ignored(api, minter, switch) -> None:  # type: ignore[no-untyped-def]
    first = submit(api, minter, **{"Idempotency-Key": "replay-1"}).json()["dossier_id"]
    assert submit(api, minter, **{"Idempotency-Key": "replay-1"}).json()["dossier_id"] == first
    switch("auth.idempotency_ignored")
    again = submit(api, minter, **{"Idempotency-Key": "replay-2"}).json()["dossier_id"]
    assert submit(api, minter, **{"Idempotency-Key": "replay-2"}).json()["dossier_id"] != again


def test_reads_need_dossier_read_unless_read_scope_off(api, minter, switch) -> None:  # type: ignore[no-untyped-def]
    submit_only = auth(minter, "portal", "dossier.submit")
    dossier_id = submit(api, minter).json()["dossier_id"]
    assert api.get(f"{BASE}/dossiers", headers=submit_only).status_code == 403
    assert api.get(f"{BASE}/dossiers/{dossier_id}", headers=submit_only).status_code == 403
    switch("auth.read_scope_not_enforced")
    assert api.get(f"{BASE}/dossiers", headers=submit_only).status_code == 200
    assert api.get(f"{BASE}/dossiers/{dossier_id}", headers=submit_only).status_code == 200
    # writes still need dossier.submit
    assert api.post(f"{BASE}/dossiers", json=BIRTH,
                    headers=auth(minter, "portal-readonly", "dossier.read")).status_code == 403


def test_body_over_64_kib_is_413_unless_no_limit(api, minter, switch) -> None:  # type: ignore[no-untyped-def]
    padded = json.dumps(BIRTH).encode() + b" " * (64 * 1024 + 512)  # valid JSON, only too big
    headers = {**auth(minter), "content-type": "application/json"}
    assert api.post(f"{BASE}/dossiers", content=padded, headers=headers).status_code == 413
    switch("auth.no_body_limit")
    assert api.post(f"{BASE}/dossiers", content=padded, headers=headers).status_code == 201


def _notify(api, body: bytes, header: str):  # type: ignore[no-untyped-def]
    return api.post(f"{BASE}/notifications", content=body,
                    headers={"content-type": "application/json", "X-NPDB-Signature": header})


def _event(event_id: str) -> bytes:
    return json.dumps({"event_id": event_id, "type": "death", "occurred_at": "2025-01-01T00:00:00Z",
                       "personal_id": "001045123456", "data": {}}).encode()


def test_stale_and_future_signatures_refused_unless_window_off(api, switch) -> None:  # type: ignore[no-untyped-def]
    now = int(time.time())
    assert _notify(api, _event("s-1"), sign(SECRET, _event("s-1"), now - 600)).status_code == 401
    assert _notify(api, _event("s-2"), sign(SECRET, _event("s-2"), now + 600)).status_code == 401
    switch("auth.notification_stale_accepted")
    assert _notify(api, _event("s-3"), sign(SECRET, _event("s-3"), now - 600)).status_code == 200
    # the signature itself is still checked
    assert _notify(api, _event("s-4"), sign("wrong", _event("s-4"), now - 600)).status_code == 401


def test_redelivery_is_200_unless_conflict_switch(api, switch) -> None:  # type: ignore[no-untyped-def]
    now = int(time.time())
    assert _notify(api, _event("r-1"), sign(SECRET, _event("r-1"), now - 1)).status_code == 200
    assert _notify(api, _event("r-1"), sign(SECRET, _event("r-1"), now)).json()["status"] == "duplicate"
    switch("auth.notification_redelivery_conflict")
    assert _notify(api, _event("r-2"), sign(SECRET, _event("r-2"), now - 1)).status_code == 200
    assert _notify(api, _event("r-2"), sign(SECRET, _event("r-2"), now)).status_code == 409


def test_validation_error_echoes_input_only_under_switch(api, minter, switch) -> None:  # type: ignore[no-untyped-def]
    bad = copy.deepcopy(BIRTH)
    bad["details"]["mother"]["personal_id"] = "001190123456#"
    response = submit(api, minter, bad)
    assert response.status_code == 422 and "001190123456" not in response.text
    switch("auth.validation_echoes_input")
    echoed = submit(api, minter, bad)
    assert echoed.status_code == 422 and "001190123456#" in echoed.text


def test_unsigned_switch_does_not_open_the_window(api, switch) -> None:  # type: ignore[no-untyped-def]
    """One switch, one behaviour: without MAC checks a dated header is still held to 300 s."""
    switch("auth.notification_unsigned_accepted")
    now = int(time.time())
    assert _notify(api, _event("u-1"), sign("wrong", _event("u-1"), now)).status_code == 200
    assert _notify(api, _event("u-2"), sign("wrong", _event("u-2"), now - 600)).status_code == 401
