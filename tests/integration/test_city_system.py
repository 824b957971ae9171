"""The reference city system against the real mock NPDB, both on 127.0.0.1 with OS-chosen ports.

Submits each procedure, waits for the background worker, and checks outcomes, the NPDB audit
(purpose code, minimal fields), notifications (HMAC, replay), NPDB outages and mTLS.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from popcert_city.launcher import CitySystem
from popcert_city.procedures import PROCEDURES, allowed_fields_by_purpose
from popcert_npdb.launcher import MockNPDB
from popcert_npdb.population import Population

pytestmark = pytest.mark.integration
POPULATION, SEED = 20_000, 6
BASE = "/connection/v1"


@pytest.fixture(scope="module")
def npdb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MockNPDB]:
    with MockNPDB(tmp_path_factory.mktemp("npdb"), population=POPULATION, seed=SEED) as mock:
        yield mock


@pytest.fixture(scope="module")
def city(npdb: MockNPDB, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CitySystem]:
    with CitySystem(npdb, tmp_path_factory.mktemp("city")) as system:
        yield system


@pytest.fixture(scope="module")
def population() -> Population:
    return Population(SEED, POPULATION)


@pytest.fixture(scope="module")
def portal(npdb: MockNPDB, city: CitySystem) -> Iterator[httpx.Client]:
    token = npdb.minter().mint("portal", "dossier.submit dossier.read")
    with httpx.Client(base_url=city.base_url, verify=str(city.ca_path), timeout=10,
                      headers={"Authorization": f"Bearer {token}"}) as client:
        yield client


def person(record: Any) -> dict[str, str]:
    get = record.get if isinstance(record, dict) else lambda k: getattr(record, k)
    return {"personal_id": get("personal_id"), "full_name": get("full_name"), "date_of_birth": get("date_of_birth")}


def submit_and_wait(portal: httpx.Client, body: dict[str, Any], timeout_s: float = 20) -> dict[str, Any]:
    created = portal.post(f"{BASE}/dossiers", json=body)
    assert created.status_code == 201, created.text
    dossier_id = created.json()["dossier_id"]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        dossier: dict[str, Any] = portal.get(f"{BASE}/dossiers/{dossier_id}").json()
        if dossier["status"] in ("completed", "rejected"):
            return dossier
        time.sleep(0.2)
    raise AssertionError(f"dossier {dossier_id} still {dossier['status']} after {timeout_s} s")


def adults(population: Population, gender: str, n: int) -> list[Any]:
    found = []
    for i in range(POPULATION):
        c = population.citizen(i)
        if (c.gender == gender and c.date_of_death is None and c.spouse_id is None
                and c.marital_status != "married" and 25 <= c.age_on() <= 60):
            found.append(c)
            if len(found) == n:
                return found
    raise AssertionError("population too small")


def test_birth_completes_with_purpose_and_no_extra_data(npdb: MockNPDB, portal: httpx.Client,
                                                        population: Population) -> None:
    child = next(c for c in population.sample("child_with_parents", 50, 1)
                 if population.by_personal_id(c.mother_id).date_of_death is None)  # type: ignore[union-attr, arg-type]
    mother = population.by_personal_id(child.mother_id)  # type: ignore[arg-type]
    mark = npdb.admin.audit_mark()
    body = {"procedure_code": "1.001193", "applicant": person(mother),
            "details": {"child": {"full_name": "Nguyễn Minh Khôi", "date_of_birth": date.today().isoformat(),
                                  "gender": "male"}, "mother": person(mother)}}
    dossier = submit_and_wait(portal, body)
    assert (dossier["status"], dossier["outcome"]) == ("completed", "approved"), dossier
    calls = [e for e in npdb.admin.audit(since_id=mark, client_id="city-system") if e.endpoint.startswith("/npdb")]
    assert len(calls) == 1 and calls[0].endpoint == "/npdb/v1/identity/verify"
    assert calls[0].purpose_code == "1.001193" and calls[0].request_id


def test_marriage_outcomes_and_minimal_fields(npdb: MockNPDB, portal: httpx.Client,
                                              population: Population) -> None:
    groom, bride = adults(population, "male", 1)[0], adults(population, "female", 1)[0]
    mark = npdb.admin.audit_mark()
    body = {"procedure_code": "1.000894", "applicant": person(groom),
            "details": {"spouse_a": person(groom), "spouse_b": person(bride)}}
    assert submit_and_wait(portal, body)["outcome"] == "approved"
    lookups = [e for e in npdb.admin.audit(since_id=mark, client_id="city-system")
               if e.endpoint.startswith("/npdb/v1/citizens")]
    assert len(lookups) == 2 and {e.purpose_code for e in lookups} == {"1.000894"}
    needed = set(PROCEDURES["1.000894"].lookup_fields)
    assert all(set(e.fields_requested) == needed for e in lookups)
    assert needed <= allowed_fields_by_purpose()["1.000894"]

    married = population.sample("married_couple", 1, 3)[0]
    other = adults(population, "female" if married.gender == "male" else "male", 2)[1]
    body["details"] = {"spouse_a": person(married), "spouse_b": person(other)}
    rejected = submit_and_wait(portal, body)
    assert rejected["outcome"] == "rejected" and any("already married" in r for r in rejected["reasons"])


def test_other_procedures(portal: httpx.Client, population: Population) -> None:
    living = adults(population, "male", 6)
    dead = population.sample("deceased", 1, 2)[0]
    declarant = living[0]
    cases = [
        ({"procedure_code": "1.000656", "applicant": person(declarant),
          "details": {"deceased_personal_id": living[1].personal_id, "date_of_death": "2025-01-02"}}, "approved"),
        ({"procedure_code": "1.000656", "applicant": person(declarant),
          "details": {"deceased_personal_id": dead.personal_id, "date_of_death": "2025-01-02"}}, "rejected"),
        ({"procedure_code": "1.004194", "applicant": person(living[2]),
          "details": {"address": {"line": "Số 1 Tràng Tiền", "ward": "Tràng Tiền", "district": "Hoàn Kiếm",
                                  "province_code": "001"}, "household_id": living[3].household_id,
                      "relation_to_head": "other"}}, "approved"),
        ({"procedure_code": "1.004206", "applicant": person(living[4]),
          "details": {"reason": "registered_elsewhere"}}, "approved"),
        ({"procedure_code": "1.002045", "applicant": person(living[5]),
          "details": {"deceased_personal_id": dead.personal_id}}, "approved"),
    ]
    for body, outcome in cases:
        dossier = submit_and_wait(portal, body)
        assert dossier["outcome"] == outcome, (body["procedure_code"], dossier)


def test_other_portal_client_cannot_see_dossier(npdb: MockNPDB, city: CitySystem, portal: httpx.Client,
                                                population: Population) -> None:
    applicant = person(adults(population, "female", 3)[2])
    dossier_id = portal.post(f"{BASE}/dossiers", json={
        "procedure_code": "1.004206", "applicant": applicant, "details": {"reason": "other"}}).json()["dossier_id"]
    token_b = npdb.minter().mint("portal-b", "dossier.submit dossier.read")
    response = httpx.get(f"{city.base_url}{BASE}/dossiers/{dossier_id}", verify=str(city.ca_path),
                         headers={"Authorization": f"Bearer {token_b}"})
    assert response.status_code == 404


def test_notifications_signed_unsigned_replayed(npdb: MockNPDB, city: CitySystem,
                                                population: Population) -> None:
    target = adults(population, "male", 8)[7]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # the subscription is made in the background at start-up
        event = npdb.admin.notify("residence_change", target.personal_id)
        if event["deliveries"]:
            break
        time.sleep(0.3)
    delivery = event["deliveries"][0]
    assert delivery["attempts"][-1]["status"] == 200
    url = f"{city.base_url}{BASE}/notifications"
    send = lambda headers: httpx.post(url, content=delivery["body"].encode(), verify=str(city.ca_path),
                                      headers={"content-type": "application/json", **headers})
    assert send({"X-NPDB-Signature": delivery["signature_header"]}).status_code == 409
    assert send({}).status_code == 401
    assert send({"X-NPDB-Signature": delivery["signature_header"].replace("v1=", "v1=0")}).status_code == 401
    # the mock signs for this subscriber at a chosen clock: a redelivery (fresh signature) is a 200
    # duplicate; the same event signed 10 minutes ago or ahead is outside the 300 s window
    sign = lambda t: npdb.admin.sign(delivery["subscription_id"], delivery["body"].encode(), t)
    first_t = int(delivery["signature_header"].split(",")[0].removeprefix("t="))
    redelivered = send({"X-NPDB-Signature": sign(first_t + 1)})
    assert redelivered.status_code == 200 and redelivered.json()["status"] == "duplicate"
    for offset in (-600, 600):
        assert send({"X-NPDB-Signature": sign(int(time.time()) + offset)}).status_code == 401


def test_npdb_outage_keeps_dossier_pending_then_completes(npdb: MockNPDB, portal: httpx.Client,
                                                          population: Population) -> None:
    applicant = person(adults(population, "female", 5)[4])
    npdb.admin.inject(endpoint="/npdb/v1/identity/verify", kind="status", status=503, probability=1.0)
    try:
        created = portal.post(f"{BASE}/dossiers", json={
            "procedure_code": "1.004206", "applicant": applicant, "details": {"reason": "moved_abroad"}})
        assert created.status_code == 201
        dossier_id = created.json()["dossier_id"]
        deadline = time.monotonic() + 15
        status = ""
        while time.monotonic() < deadline and status != "pending_npdb":
            time.sleep(0.3)
            status = portal.get(f"{BASE}/dossiers/{dossier_id}").json()["status"]
        assert status == "pending_npdb"
    finally:
        npdb.admin.clear_faults()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and status not in ("completed", "rejected"):
        time.sleep(0.5)
        status = portal.get(f"{BASE}/dossiers/{dossier_id}").json()["status"]
    assert status == "completed"


def with_client_cert(ca_path: Path, issued: Any) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(ca_path))
    context.load_cert_chain(str(issued.cert_path), str(issued.key_path))
    return context


def test_required_mtls_is_enforced_at_tls_layer(npdb: MockNPDB, tmp_path: Path) -> None:
    token = npdb.minter().mint("portal", "dossier.read")
    cert = npdb.pki.client_cert_set("portal")
    with CitySystem(npdb, tmp_path / "city-mtls", mtls="required", subscribe_notifications=False) as strict:
        url = f"{strict.base_url}{BASE}/dossiers"
        headers = {"Authorization": f"Bearer {token}"}
        with pytest.raises((httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError, ssl.SSLError)):
            httpx.get(url, verify=str(strict.ca_path), headers=headers).raise_for_status()
        for bad in ("expired", "foreign"):
            with pytest.raises((httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError, ssl.SSLError)):
                httpx.get(url, verify=with_client_cert(strict.ca_path, cert[bad]), headers=headers)
        ok = httpx.get(url, verify=with_client_cert(strict.ca_path, cert["valid"]), headers=headers)
        assert ok.status_code == 200


MTLS_CASES = {"mtls.optional": None, "mtls.expired_cert_accepted": "expired", "mtls.foreign_ca_accepted": "foreign"}


@pytest.mark.parametrize("defect", sorted(MTLS_CASES))
def test_mtls_switch_lets_exactly_its_client_through(npdb: MockNPDB, tmp_path: Path, defect: str) -> None:
    token = npdb.minter().mint("portal", "dossier.read")
    certs = npdb.pki.client_cert_set("portal")
    with CitySystem(npdb, tmp_path / "city", {defect}, mtls="required", subscribe_notifications=False) as weak:
        url = f"{weak.base_url}{BASE}/dossiers"
        headers = {"Authorization": f"Bearer {token}"}

        def accepted(kind: str | None) -> bool:
            verify: Any = (ssl.create_default_context(cafile=str(weak.ca_path)) if kind is None
                           else with_client_cert(weak.ca_path, certs[kind]))
            try:
                return httpx.get(url, verify=verify, headers=headers).status_code == 200
            except (httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError, ssl.SSLError):
                return False
        outcome = {kind: accepted(kind) for kind in (None, "expired", "foreign")}
        assert outcome == {kind: kind == MTLS_CASES[defect] for kind in outcome}


def test_shared_credentials_and_lost_dossier_switches(npdb: MockNPDB, tmp_path: Path,
                                                      population: Population) -> None:
    token = npdb.minter().mint("portal", "dossier.submit dossier.read")
    applicant = person(adults(population, "female", 7)[6])
    body = {"procedure_code": "1.004206", "applicant": applicant, "details": {"reason": "other"}}
    with (CitySystem(npdb, tmp_path / "a", {"npdb.shared_credentials"}, subscribe_notifications=False) as city,
          httpx.Client(base_url=city.base_url, verify=str(city.ca_path),
                       headers={"Authorization": f"Bearer {token}"}) as client):
        mark = npdb.admin.audit_mark()
        client.post(f"{BASE}/dossiers", json=body)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not npdb.admin.audit(since_id=mark, client_id="other-system"):
            time.sleep(0.2)
        assert npdb.admin.audit(since_id=mark, client_id="other-system")
    with CitySystem(npdb, tmp_path / "b", {"npdb.loses_dossier_on_failure"}, subscribe_notifications=False) as city:
        npdb.admin.inject(endpoint="/npdb/v1/identity/verify", kind="status", status=503, probability=1.0)
        try:
            with httpx.Client(base_url=city.base_url, verify=str(city.ca_path),
                              headers={"Authorization": f"Bearer {token}"}) as client:
                dossier_id = client.post(f"{BASE}/dossiers", json=body).json()["dossier_id"]
                deadline = time.monotonic() + 15
                code = 200
                while time.monotonic() < deadline and code == 200:
                    time.sleep(0.3)
                    code = client.get(f"{BASE}/dossiers/{dossier_id}").status_code
                assert code == 404  # the compliant system keeps it pending (test above)
        finally:
            npdb.admin.clear_faults()
