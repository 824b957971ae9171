"""The NPDB OpenAPI spec is valid and agrees with the mock; webhook signatures verify."""

from __future__ import annotations

import time

import yaml
from openapi_spec_validator import validate

from popcert_npdb.faults import FaultSpec, FaultTable
from popcert_npdb.notifications import is_loopback_url, sign, verify_signature
from popcert_npdb.purposes import CITIZEN_FIELDS, SPEC_DIR, load_purposes


def test_openapi_spec_is_valid_3_1_and_matches_the_mock() -> None:
    spec = yaml.safe_load((SPEC_DIR / "openapi.yaml").read_text(encoding="utf-8"))
    validate(spec)
    assert spec["openapi"].startswith("3.1")
    params = spec["components"]["parameters"]
    assert params["PurposeCode"]["required"] and params["RequestId"]["required"]
    assert set(params["PurposeCode"]["schema"]["enum"]) == set(load_purposes())
    assert set(spec["components"]["schemas"]["Citizen"]["properties"]) == set(CITIZEN_FIELDS)
    for path, item in spec["paths"].items():
        if path.startswith("/npdb/v1/"):
            for op in item.values():
                assert {"400", "401", "403", "429", "503"} <= set(op["responses"]), path
    schemes = spec["components"]["securitySchemes"]
    assert schemes["nationalToken"]["flows"]["clientCredentials"]
    assert schemes["mtlsAndToken"]["type"] == "mutualTLS"


def test_signature_roundtrip_and_tamper() -> None:
    body = b'{"event_id":"evt_1"}'
    header = sign("s3cret", body)
    assert verify_signature("s3cret", body, header)
    assert not verify_signature("s3cret", body + b" ", header)
    assert not verify_signature("other", body, header)
    assert not verify_signature("s3cret", body, sign("s3cret", body, int(time.time()) - 301))
    assert not verify_signature("s3cret", body, "garbage")


def test_loopback_only_callbacks() -> None:
    assert is_loopback_url("https://127.0.0.1:8443/x") and is_loopback_url("http://localhost/x")
    assert is_loopback_url("http://[::1]:80/")
    for url in ("https://10.0.0.1/x", "https://example.org/", "ftp://127.0.0.1/", "127.0.0.1"):
        assert not is_loopback_url(url)


def test_fault_count_and_probability() -> None:
    table = FaultTable(rng_seed=1)
    table.add(FaultSpec(endpoint="/npdb/v1/citizens/{personal_id}", kind="status", count=2))
    assert table.pick("/npdb/v1/identity/verify") is None
    assert table.pick("/npdb/v1/citizens/001090000001") is not None
    assert table.pick("/npdb/v1/citizens/001090000001/residence") is None
    assert table.pick("/npdb/v1/citizens/001090000001") is not None
    assert table.pick("/npdb/v1/citizens/001090000001") is None  # count exhausted
    table.clear()
    table.add(FaultSpec(kind="latency", probability=0.3, latency_ms=1))
    fired = sum(table.pick("/any") is not None for _ in range(2000))
    assert 450 < fired < 750
