"""Run namespaces in one mock (issue 12 item 8): each run its own people, fault rules, audit
window and deliveries; a person another run holds, or whose record a change altered, is never
given to a run."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from popcert_npdb.admin_app import build_admin_app
from popcert_npdb.app import build_data_app
from popcert_npdb.server import build_state
from popcert_npdb.tokens import TokenMinter

RUN = "X-Popcert-Run"


@pytest.fixture()
def mock(tmp_path: Path) -> Any:
    state = build_state(tmp_path, population=20_000, seed=6, mtls="off")
    admin = TestClient(build_admin_app(state), base_url="http://testserver")
    data = TestClient(build_data_app(state), base_url="https://testserver")
    yield state, admin, data, TokenMinter(tmp_path)
    admin.close()
    data.close()


def sample(admin: TestClient, run: str | None, kind: str = "child_with_parents", n: int = 6,
           seed: int = 7) -> list[dict[str, Any]]:
    resp = admin.get("/admin/population/sample", params={"kind": kind, "n": n, "seed": seed},
                     headers={RUN: run} if run else {})
    assert resp.status_code == 200, resp.text
    return resp.json()["records"]  # type: ignore[no-any-return]


def verify(data: TestClient, minter: TokenMinter, record: dict[str, Any]) -> int:
    headers = {"Authorization": "Bearer " + minter.mint("city-system", "identity.verify",
                                                        audience="npdb"),
               "X-Request-Id": str(uuid.uuid4()), "X-Purpose-Code": "1.001193"}
    body = {k: record[k] for k in ("personal_id", "full_name", "date_of_birth")}
    return data.post("/npdb/v1/identity/verify", json=body, headers=headers).status_code


def test_two_runs_with_one_seed_never_share_a_person_or_a_family(mock: Any) -> None:
    state, admin, _, _ = mock
    legacy = [r["personal_id"] for r in sample(admin, None)]
    first = [r["personal_id"] for r in sample(admin, "run-a")]
    second = [r["personal_id"] for r in sample(admin, "run-b")]
    assert first == legacy  # a solo run on a fresh mock draws the people it always drew
    assert len(second) == 6 and not set(first) & set(second)
    families_a = {pid for r in sample(admin, "run-a") for pid in
                  state.runs.family(state.population.by_personal_id(r["personal_id"]))}
    families_b = {pid for pid in second
                  for pid in state.runs.family(state.population.by_personal_id(pid))}
    assert not families_a & families_b
    # A run asking again gets its own people again (it holds them).
    assert [r["personal_id"] for r in sample(admin, "run-a")] == first


def test_a_changed_person_is_never_given_to_a_later_run(mock: Any) -> None:
    _, admin, _, _ = mock
    adults = [r["personal_id"] for r in sample(admin, None, kind="adult", n=3)]
    # A death recorded outside any run (or by a run that has ended) alters that record for good.
    assert admin.post("/admin/notifications",
                      json={"type": "death", "personal_id": adults[0], "wait": False}
                      ).status_code == 200
    rerun = [r["personal_id"] for r in sample(admin, "rerun", kind="adult", n=3)]
    assert adults[0] not in rerun and rerun[:2] == adults[1:]


def test_a_run_may_not_change_another_runs_person(mock: Any) -> None:
    _, admin, _, _ = mock
    person = sample(admin, "run-a", kind="adult", n=1)[0]["personal_id"]
    refused = admin.post("/admin/notifications", headers={RUN: "run-b"},
                         json={"type": "death", "personal_id": person, "wait": False})
    assert refused.status_code == 409


def test_a_fault_injected_by_one_run_never_hits_another_runs_calls(mock: Any) -> None:
    _, admin, data, minter = mock
    mine, theirs = sample(admin, "run-a", n=1)[0], sample(admin, "run-b", n=1)[0]
    assert admin.post("/admin/faults", headers={RUN: "run-a"},
                      json={"endpoint": "/npdb/v1/identity/verify", "kind": "status",
                            "status": 503, "count": 5}).status_code == 201
    assert verify(data, minter, theirs) == 200  # run B's person: untouched by A's rule
    assert verify(data, minter, mine) == 503
    assert admin.get("/admin/faults", headers={RUN: "run-b"}).json()["faults"] == []
    assert len(admin.get("/admin/faults", headers={RUN: "run-a"}).json()["faults"]) == 1
    admin.delete("/admin/faults", headers={RUN: "run-b"})  # B clears only its own rules
    assert verify(data, minter, mine) == 503
    admin.delete("/admin/faults", headers={RUN: "run-a"})
    assert verify(data, minter, mine) == 200


def test_a_fault_narrowed_to_personal_ids_fires_only_on_them(mock: Any) -> None:
    _, admin, data, minter = mock
    one, other = sample(admin, "run-a", n=2)
    admin.post("/admin/faults", headers={RUN: "run-a"},
               json={"endpoint": "*", "kind": "status", "status": 503,
                     "personal_ids": [one["personal_id"]]})
    assert verify(data, minter, other) == 200
    assert verify(data, minter, one) == 503


def test_each_run_reads_only_its_own_audit_window(mock: Any) -> None:
    _, admin, data, minter = mock
    mine, theirs = sample(admin, "run-a", n=1)[0], sample(admin, "run-b", n=1)[0]
    admin.post("/admin/faults", headers={RUN: "run-b"},
               json={"endpoint": "/npdb/v1/identity/verify", "kind": "status", "status": 503})
    verify(data, minter, mine)
    verify(data, minter, theirs)  # answered by run B's fault: still run B's, not anonymous
    seen_a = admin.get("/admin/audit", headers={RUN: "run-a"}).json()["entries"]
    seen_b = admin.get("/admin/audit", headers={RUN: "run-b"}).json()["entries"]
    assert [e["personal_ids"] for e in seen_a] == [[mine["personal_id"]]]
    assert [(e["personal_ids"], e["status"]) for e in seen_b] == [([theirs["personal_id"]], 503)]
    assert len(admin.get("/admin/audit").json()["entries"]) == 2  # no run id: everything


def test_deliveries_and_reset_are_per_run(mock: Any) -> None:
    state, admin, _, _ = mock
    state.notifier.subscribe("city-system", "http://127.0.0.1:9/cb", ["death"])
    mine = sample(admin, "run-a", kind="adult", n=1)[0]["personal_id"]
    admin.post("/admin/notifications", headers={RUN: "run-a"},
               json={"type": "death", "personal_id": mine, "wait": False})
    assert len(admin.get("/admin/deliveries", headers={RUN: "run-a"}).json()["deliveries"]) == 1
    assert admin.get("/admin/deliveries", headers={RUN: "run-b"}).json()["deliveries"] == []
    admin.post("/admin/faults", headers={RUN: "run-a"}, json={"kind": "latency"})
    admin.post("/admin/faults", json={"kind": "latency"})
    admin.post("/admin/reset", headers={RUN: "run-a"})
    assert [f["run_id"] for f in admin.get("/admin/faults").json()["faults"]] == [None]


def test_a_malformed_run_id_is_refused(mock: Any) -> None:
    _, admin, _, _ = mock
    resp = admin.get("/admin/audit", headers={RUN: "bad id with spaces"})
    assert resp.status_code == 400


def test_a_fault_step_has_the_mock_to_itself_and_does_not_starve() -> None:
    from popcert_npdb.runs import Leases

    now = [0.0]
    leases = Leases(clock=lambda: now[0])
    a_shared = leases.acquire("a", "shared", 60)
    b_shared = leases.acquire("b", "shared", 60)
    assert a_shared and b_shared  # fault-free steps of two runs go side by side
    assert leases.acquire("a", "exclusive", 60) is None  # B is mid-step: A's fault step waits
    assert leases.acquire("b", "shared", 60) is None  # and B takes no new step meanwhile
    leases.release(a_shared)
    leases.release(b_shared)
    a_faults = leases.acquire("a", "exclusive", 60)
    assert a_faults is not None
    assert leases.acquire("b", "shared", 60) is None  # nothing of B's runs during A's faults
    assert leases.acquire("a", "shared", 60) is not None  # A's own calls are A's business
    leases.release(a_faults)
    now[0] += 61  # A's shared lease expires with no release (a killed run frees the mock)
    assert leases.acquire("b", "exclusive", 60) is not None


def test_leases_over_the_admin_api(mock: Any) -> None:
    _, admin, _, _ = mock
    taken = admin.post("/admin/lease", headers={RUN: "run-a"}, json={"mode": "exclusive"})
    assert taken.status_code == 200
    busy = admin.post("/admin/lease", headers={RUN: "run-b"}, json={"mode": "shared"})
    assert busy.status_code == 409
    assert admin.post("/admin/lease", json={"mode": "shared"}).status_code == 400  # no run id
    admin.delete(f"/admin/lease/{taken.json()['lease_id']}")
    assert admin.post("/admin/lease", headers={RUN: "run-b"},
                      json={"mode": "shared"}).status_code == 200
