"""The auth suite's judgements on answers it is given: refusal, leaks, Retry-After, TLS refusal."""

from __future__ import annotations

import json
import traceback
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from harness.checks import Status
from harness.net import Exchange
from harness.suites.auth.access import _leaks
from harness.suites.auth.mtls import refused_at_tls
from harness.suites.auth.probe import Probe, expect_refused
from harness.suites.auth.ratelimit import retry_after_valid

URL = "https://127.0.0.1:1/connection/v1/dossiers?limit=1"


def _probe(status: int | None, body: bytes = b"", error: str | None = None,
           description: str = "token with alg none") -> Probe:
    exchange = Exchange("GET", URL, {"Authorization": "Bearer eyJhbGciOiJub25lIn0.eyJ9."},
                        status=status, body=body, error=error)
    return Probe(description, exchange, None, "eyJhbGciOiJub25lIn0.eyJzdWIiOiJwIn0.")


@pytest.mark.parametrize(("status", "error", "expected"), [
    (401, None, Status.PASS), (403, None, Status.PASS), (200, None, Status.FAIL),
    (500, None, Status.FAIL), (400, None, Status.FAIL), (429, None, Status.ERROR),
    (None, "ReadTimeout: timed out", Status.ERROR)])
def test_expect_refused(status: int | None, error: str | None, expected: Status) -> None:
    result = expect_refused([_probe(status, error=error)], what="unsigned token",
                            accepted_means="accepted")
    assert result.status == expected
    if expected != Status.PASS:
        assert "token with alg none" in result.summary
    kinds = {e.kind for e in result.evidence}
    assert {"request", "response"} <= {str(k) for k in kinds}


def test_one_accepted_variant_among_refused_ones_fails() -> None:
    probes = [_probe(401, description="a"), _probe(200, description="b"), _probe(401)]
    result = expect_refused(probes, what="x", accepted_means="accepted")
    assert result.status == Status.FAIL and "b → accepted" in result.summary


def test_evidence_carries_a_curl_reproduction_without_the_token() -> None:
    result = expect_refused([_probe(200)], what="x", accepted_means="accepted")
    repro = next(e for e in result.evidence if str(e.kind) == "reproduction")
    assert repro.data["command"].startswith("curl ") and URL in repro.data["command"]
    assert "eyJzdWIiOiJwIn0" not in json.dumps([e.to_json() for e in result.evidence])


def _python_traceback() -> str:
    try:
        json.loads("{")
    except ValueError:
        return traceback.format_exc()
    raise AssertionError("unreachable")


def test_leaks_found_in_a_python_traceback() -> None:
    found = _leaks(_python_traceback(), [], "eyJhbGciOi.not.sent")
    assert {"stack trace", "source location", "exception class name"} <= set(found)


def test_spec_error_body_leaks_nothing() -> None:
    body = json.dumps({"error": "validation_error", "message": "invalid input",
                       "request_id": "00000000-0000-4000-8000-123456789012",
                       "fields": ["/applicant/date_of_birth"]})
    assert _leaks(body, ["001190123456", "Nguyễn Văn An"], "tok") == []


def test_citizen_data_and_token_in_error_body_are_leaks() -> None:
    assert "citizen data" in _leaks('{"message": "no match for 001190123456"}', [], "t")
    assert "citizen data" in _leaks('{"message": "Nguyễn Văn An is invalid"}',
                                    ["Nguyễn Văn An"], "t")
    assert "the caller's bearer token" in _leaks("bad token abc.def.ghi", [], "abc.def.ghi")
    assert "file system path" in _leaks("cannot open /srv/city/app.db", [], "t")
    assert "database error" in _leaks("SQLSTATE[42000]: syntax error", [], "t")


@pytest.mark.parametrize(("value", "valid"), [
    ("1", True), ("0", True), ("120", True), ("86400", False), (None, False), ("", False),
    ("-1", False), ("1.5", False), ("soon", False), ("١", False)])
def test_retry_after_seconds(value: str | None, valid: bool) -> None:
    assert retry_after_valid(value) is valid


def test_retry_after_http_date() -> None:
    now = datetime.now(UTC)
    assert retry_after_valid(format_datetime(now + timedelta(seconds=30), usegmt=True), now)
    assert not retry_after_valid(format_datetime(now + timedelta(days=2), usegmt=True), now)


@pytest.mark.parametrize(("error", "refused"), [
    ("RemoteProtocolError: Server disconnected without sending a response.", True),
    ("ReadError: [SSL: TLSV13_ALERT_CERTIFICATE_REQUIRED] tlsv13 alert certificate required", True),
    ("ConnectError: [SSL: SSLV3_ALERT_BAD_CERTIFICATE] sslv3 alert bad certificate", True),
    ("ReadError: [Errno 104] Connection reset by peer", True),
    ("ReadTimeout: timed out", False),
    ("ConnectError: [Errno 111] Connection refused", False),
    ("ConnectError: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed", False),
    (None, False)])
def test_tls_refusal_classification(error: str | None, refused: bool) -> None:
    assert refused_at_tls(error) is refused

