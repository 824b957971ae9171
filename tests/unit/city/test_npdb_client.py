"""The NPDB client: token caching, purpose code, minimal fields, retries, Retry-After, breaker."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from popcert_city.npdb_client import ClientCredentials, NpdbClient, NpdbRejected, NpdbUnavailable
from popcert_city.processing import decide
from popcert_city.resilience import CircuitBreaker, RetryPolicy

TOKEN_URL = "https://npdb.test/oauth2/token"
DATA_URL = "https://npdb.test/npdb/v1"
PERSON = {"personal_id": "001190123456", "full_name": "Trần Thị Bình", "date_of_birth": "1990-05-17"}


@pytest.fixture
def key_path(tmp_path: Path) -> Path:
    key = ec.generate_private_key(ec.SECP256R1())
    path = tmp_path / "city-system.key"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return path


class FakeNpdb:
    """Records requests; ``script`` yields responses for data calls in order, then 200s."""

    def __init__(self, script: list[Callable[[httpx.Request], httpx.Response]] | None = None) -> None:
        self.script = list(script or [])
        self.requests: list[httpx.Request] = []
        self.token_requests = 0
        self.citizens: dict[str, dict[str, Any]] = {}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/oauth2/token"):
            self.token_requests += 1
            return httpx.Response(200, json={"access_token": f"t{self.token_requests}", "expires_in": 300})
        self.requests.append(request)
        if self.script:
            return self.script.pop(0)(request)
        if request.url.path.endswith("/identity/verify"):
            return httpx.Response(200, json={"match": True, "mismatched_fields": []})
        pid = request.url.path.rsplit("/", 1)[-1]
        if pid in self.citizens:
            wanted = request.url.params.get("fields", "").split(",")
            return httpx.Response(200, json={k: v for k, v in self.citizens[pid].items() if k in wanted})
        return httpx.Response(404, json={"error": "not_found", "message": "", "request_id": "x"})


def client_for(fake: FakeNpdb, key_path: Path, sleeps: list[float] | None = None,
               breaker: CircuitBreaker | None = None) -> NpdbClient:
    async def sleep(s: float) -> None:
        if sleeps is not None:
            sleeps.append(s)
    return NpdbClient(data_url=DATA_URL, token_url=TOKEN_URL, credentials=ClientCredentials("city-system", key_path),
                      ca_path=None, transport=httpx.MockTransport(fake), sleep=sleep,
                      policy=RetryPolicy(max_attempts=4), breaker=breaker or CircuitBreaker(failure_threshold=50))


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def status(code: int, headers: dict[str, str] | None = None) -> Callable[[httpx.Request], httpx.Response]:
    return lambda r: httpx.Response(code, headers=headers, json={"error": "x", "message": "", "request_id": "x"})


def test_purpose_code_request_id_and_cached_token(key_path: Path) -> None:
    fake = FakeNpdb()
    client = client_for(fake, key_path)

    async def twice() -> None:
        await client.verify_identity("1.001193", PERSON)
        await client.verify_identity("1.001193", PERSON)
    run(twice())
    assert fake.token_requests == 1
    assert all(r.headers["X-Purpose-Code"] == "1.001193" for r in fake.requests)
    ids = {r.headers["X-Request-Id"] for r in fake.requests}
    assert len(ids) == 2
    assert json.loads(fake.requests[0].content) == PERSON  # never more than needed


def test_missing_purpose_code_under_switch(key_path: Path, switch) -> None:  # type: ignore[no-untyped-def]
    switch("npdb.missing_purpose_code")
    fake = FakeNpdb()
    run(client_for(fake, key_path).verify_identity("1.001193", PERSON))
    assert "X-Purpose-Code" not in fake.requests[0].headers


def test_retries_5xx_reset_and_malformed_then_succeeds(key_path: Path) -> None:
    def reset(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadError("connection reset", request=request)
    fake = FakeNpdb([status(503), reset, lambda r: httpx.Response(200, content=b'{"match": tr')])
    sleeps: list[float] = []
    answer = run(client_for(fake, key_path, sleeps).verify_identity("1.001193", PERSON))
    assert answer["match"] is True
    assert len(fake.requests) == 4 and len(sleeps) == 3
    assert len({r.headers["X-Request-Id"] for r in fake.requests}) == 1  # same logical call


def test_no_retry_under_switch(key_path: Path, switch) -> None:  # type: ignore[no-untyped-def]
    switch("npdb.no_retry")
    fake = FakeNpdb([status(503)])
    with pytest.raises(NpdbUnavailable):
        run(client_for(fake, key_path).verify_identity("1.001193", PERSON))
    assert len(fake.requests) == 1


def test_retry_after_honoured(key_path: Path) -> None:
    fake = FakeNpdb([status(429, {"Retry-After": "2"})])
    sleeps: list[float] = []
    run(client_for(fake, key_path, sleeps).verify_identity("1.001193", PERSON))
    assert sleeps == [2.0]


def test_retry_after_ignored_under_switch(key_path: Path, switch) -> None:  # type: ignore[no-untyped-def]
    switch("npdb.ignores_retry_after")
    fake = FakeNpdb([status(429, {"Retry-After": "2"})])
    sleeps: list[float] = []
    run(client_for(fake, key_path, sleeps).verify_identity("1.001193", PERSON))
    assert sleeps == [0.0]


def test_gives_up_after_max_attempts_and_breaker_opens(key_path: Path) -> None:
    fake = FakeNpdb([status(503)] * 10)
    breaker = CircuitBreaker(failure_threshold=4, reset_s=60)
    client = client_for(fake, key_path, [], breaker)
    with pytest.raises(NpdbUnavailable):
        run(client.verify_identity("1.001193", PERSON))
    assert len(fake.requests) == 4
    with pytest.raises(NpdbUnavailable, match="circuit open"):
        run(client.verify_identity("1.001193", PERSON))
    assert len(fake.requests) == 4  # the open breaker spared the NPDB


def test_403_is_not_retried(key_path: Path) -> None:
    fake = FakeNpdb([status(403)])
    with pytest.raises(NpdbRejected):
        run(client_for(fake, key_path, []).verify_identity("1.001193", PERSON))
    assert len(fake.requests) == 1


SPOUSE_A = {"personal_id": "001090000001", "full_name": "Nguyễn Văn An", "date_of_birth": "1990-01-01"}
SPOUSE_B = {"personal_id": "001192000002", "full_name": "Lê Thị Hoa", "date_of_birth": "1992-01-01"}
MARRIAGE = {"spouse_a": SPOUSE_A, "spouse_b": SPOUSE_B}


def marriage_fake(b_married: bool) -> FakeNpdb:
    fake = FakeNpdb()
    fake.citizens = {
        SPOUSE_A["personal_id"]: {"gender": "male", "date_of_birth": "1990-01-01", "marital_status": "single",
                                  "spouse_id": None, "religion": "none"},
        SPOUSE_B["personal_id"]: {"gender": "female", "date_of_birth": "1992-01-01",
                                  "marital_status": "married" if b_married else "single",
                                  "spouse_id": "001080000009" if b_married else None},
    }
    return fake


def test_marriage_rejected_when_a_spouse_is_married(key_path: Path) -> None:
    decision = run(decide(client_for(marriage_fake(True), key_path), "1.000894", SPOUSE_A, MARRIAGE,
                          today=date(2025, 6, 1)))
    assert decision.outcome == "rejected" and "spouse_b is already married" in decision.reasons


def test_marriage_approved_when_married_under_wrong_outcome_switch(key_path: Path, switch) -> None:  # type: ignore[no-untyped-def]
    switch("scenario.wrong_outcome")
    decision = run(decide(client_for(marriage_fake(True), key_path), "1.000894", SPOUSE_A, MARRIAGE,
                          today=date(2025, 6, 1)))
    assert decision.outcome == "approved"


def test_marriage_under_age_rejected(key_path: Path) -> None:
    decision = run(decide(client_for(marriage_fake(False), key_path), "1.000894", SPOUSE_A, MARRIAGE,
                          today=date(2009, 6, 1)))
    assert decision.outcome == "rejected"
    assert any("under the legal marriage age" in r for r in decision.reasons)


def test_marriage_asks_only_needed_fields_once_per_person(key_path: Path) -> None:
    fake = marriage_fake(False)
    decision = run(decide(client_for(fake, key_path), "1.000894", SPOUSE_A, MARRIAGE, today=date(2025, 6, 1)))
    assert decision.outcome == "approved"
    lookups = [r for r in fake.requests if r.method == "GET"]
    assert len(lookups) == 2 and len([r for r in fake.requests if r.method == "POST"]) == 2
    assert {tuple(r.url.params["fields"].split(",")) for r in lookups} == {
        ("gender", "marital_status")}  # the verified date of birth is the dossier's


def test_overfetch_and_redundant_calls_under_switches(key_path: Path, switch) -> None:  # type: ignore[no-untyped-def]
    switch("npdb.overfetch_fields")
    fake = marriage_fake(False)
    run(decide(client_for(fake, key_path), "1.000894", SPOUSE_A, MARRIAGE, today=date(2025, 6, 1)))
    assert "religion" in next(r for r in fake.requests if r.method == "GET").url.params["fields"]
    switch("npdb.redundant_calls")
    fake = marriage_fake(False)
    run(decide(client_for(fake, key_path), "1.000894", SPOUSE_A, MARRIAGE, today=date(2025, 6, 1)))
    assert len(fake.requests) == 8


def test_birth_verifies_each_parent_once(key_path: Path) -> None:
    fake = FakeNpdb()
    details = {"child": {"full_name": "Bé", "date_of_birth": "2025-01-01", "gender": "male"},
               "mother": SPOUSE_B, "father": SPOUSE_A}
    decision = run(decide(client_for(fake, key_path), "1.001193", SPOUSE_B, details))
    assert decision.outcome == "approved"
    assert [json.loads(r.content)["personal_id"] for r in fake.requests] == [
        SPOUSE_B["personal_id"], SPOUSE_A["personal_id"]]
