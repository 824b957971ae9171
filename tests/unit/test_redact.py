"""Secrets never reach a report: redaction of tokens, keys, secret fields and query strings."""

from __future__ import annotations

import json

import pytest

from harness.checks import CheckResult, Evidence
from harness.net import curl_command
from harness.redact import REDACTED, redact, redact_text

# A real-shaped ES256 JWT: header {"alg":"ES256","kid":"k1","typ":"JWT"}.
JWT_HEADER = "eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIiwidHlwIjoiSldUIn0"
JWT_PAYLOAD = "eyJzdWIiOiJwb3J0YWwiLCJzY29wZSI6ImRvc3NpZXIucmVhZCJ9"
JWT_SIG = "MEUCIQDx7Yb9kq3Zk0aQv2b7cVj1sX9mP5w8uQ1yT3rN6eLhBgIgK2dF"
JWT = f"{JWT_HEADER}.{JWT_PAYLOAD}.{JWT_SIG}"
PEM_KEY = ("-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBb3Zk0aQv2b7cVj1sX9mP5w8uQ1yT3rN6eLhBgIgK2dFoAoGCCqG\n"
           "SM49AwEHoUQDQgAE\n-----END EC PRIVATE KEY-----")


def test_bearer_token_is_redacted() -> None:
    text = redact_text("Authorization: Bearer abcdefgh12345678.secretvalue")
    assert "abcdefgh12345678" not in text
    assert "secretvalue" not in text
    assert "Bearer [REDACTED]" in text


def test_jwt_keeps_header_drops_payload_and_signature() -> None:
    text = redact_text(f"token={JWT} sent")
    assert JWT_HEADER in text  # alg/kid stay visible: auth checks are about them
    assert JWT_PAYLOAD not in text
    assert JWT_SIG not in text
    assert text.endswith(" sent")


def test_unsigned_jwt_with_empty_signature_is_redacted() -> None:
    text = redact_text(f"{JWT_HEADER}.{JWT_PAYLOAD}.")
    assert JWT_PAYLOAD not in text


def test_pem_private_key_is_redacted_whole() -> None:
    text = redact_text(f"key file:\n{PEM_KEY}\nend")
    assert "PRIVATE KEY-----" not in text
    assert "MHcCAQEEIBb3" not in text
    assert text.startswith("key file:") and text.endswith("end")


def test_public_certificate_is_kept() -> None:
    cert = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----"
    assert redact_text(cert) == cert


def test_secret_named_dict_keys_are_redacted_case_insensitively() -> None:
    headers = {"Authorization": "Basic dXNlcjpwYXNz", "X-Api-Key": "k-123456",
               "Cookie": "session=abc", "X-NPDB-Signature": "t=1,v1=deadbeef",
               "Content-Type": "application/json"}
    out = redact(headers)
    for name in ("Authorization", "X-Api-Key", "Cookie", "X-NPDB-Signature"):
        assert out[name] == REDACTED
    assert out["Content-Type"] == "application/json"


def test_query_string_credentials_are_redacted() -> None:
    body = ("grant_type=client_credentials&client_assertion=abc.def.ghi"
            "&client_secret=s3cr3t&password=hunter2&scope=citizen.read")
    out = redact_text(body)
    for secret in ("abc.def.ghi", "s3cr3t", "hunter2"):
        assert secret not in out
    assert "grant_type=client_credentials" in out and "scope=citizen.read" in out


def test_url_query_access_token_is_redacted() -> None:
    out = redact_text("https://127.0.0.1:8443/cb?access_token=opaque-token-value&x=1")
    assert "opaque-token-value" not in out and "x=1" in out


def test_nested_structures_are_redacted_and_keep_shape() -> None:
    value = {"request": {"headers": {"authorization": f"Bearer {JWT}"},
                         "body": [{"client_secret": "top-secret"}, f"t={JWT}", 42, None]},
             "tuple": ("Bearer 0123456789abcdef",)}
    out = redact(value)
    dumped = json.dumps(out)
    assert JWT_PAYLOAD not in dumped and "top-secret" not in dumped
    assert "0123456789abcdef" not in dumped
    assert out["request"]["body"][2] == 42 and out["request"]["body"][3] is None
    assert isinstance(out["tuple"], list)


def test_bytes_are_decoded_and_redacted() -> None:
    assert "s3cr3t" not in redact(b"client_secret=s3cr3t")


def test_empty_secret_value_is_kept_as_is() -> None:
    # An empty Authorization header is itself evidence (e.g. "no token sent").
    assert redact({"authorization": ""}) == {"authorization": ""}


def test_evidence_redacts_at_construction() -> None:
    evidence = Evidence.request("post", "https://127.0.0.1/connection/v1/dossiers?access_token=zzzzzz",
                                {"Authorization": f"Bearer {JWT}"},
                                {"note": f"sent {JWT}", "client_assertion": JWT})
    dumped = json.dumps(evidence.to_json())
    assert JWT_PAYLOAD not in dumped and JWT_SIG not in dumped and "zzzzzz" not in dumped
    # Redaction happened before storage, not just in to_json().
    assert JWT_PAYLOAD not in repr(evidence.data)


def test_evidence_title_and_reproduction_are_redacted() -> None:
    evidence = Evidence.reproduction(f"curl -H 'Authorization: Bearer {JWT}' https://127.0.0.1",
                                     title=f"replay {JWT}")
    dumped = json.dumps(evidence.to_json())
    assert JWT_PAYLOAD not in dumped


def test_evidence_round_trip_stays_redacted() -> None:
    evidence = Evidence.response(200, {"Set-Cookie": "sid=abcdef"}, PEM_KEY)
    again = Evidence.from_json(evidence.to_json())
    dumped = json.dumps(again.to_json())
    assert "abcdef" not in dumped and "MHcCAQEEIBb3" not in dumped


def test_check_result_evidence_is_redacted() -> None:
    result = CheckResult.failed("token leaked", Evidence.note(f"server echoed Bearer {JWT}"))
    assert JWT_PAYLOAD not in json.dumps([e.to_json() for e in result.evidence])


@pytest.mark.parametrize("header", ["Authorization: Basic dXNlcjpwYXNz",
                                    "Cookie: sid=abc123secret",
                                    "X-Api-Key: k-999secret",
                                    "X-NPDB-Signature: t=1700000000,v1=9f86d081884c7d65"])
def test_secret_headers_inside_a_curl_reproduction_are_redacted(header: str) -> None:
    command = curl_command("POST", "https://127.0.0.1:8443/connection/v1/notifications",
                           dict([header.split(": ", 1)]))
    stored = json.dumps(Evidence.reproduction(command).to_json())
    assert header.split(": ", 1)[1] not in stored


def test_reproduction_command_keeps_a_runnable_token_placeholder() -> None:
    from harness.net import curl_command

    command = curl_command("GET", "https://127.0.0.1:8443/dossiers/1",
                           {"Authorization": f"Bearer {JWT}", "X-Request-Id": "r1"})
    shown = Evidence.reproduction(command).data["command"]
    assert '-H "Authorization: Bearer $TOKEN"' in shown
    assert "[REDACTED][REDACTED]" not in shown and JWT.split(".")[1] not in shown
    # The shell expands the placeholder: the command runs once TOKEN is set.
    import shlex
    assert "Authorization: Bearer $TOKEN" in shlex.split(shown)


def test_evidence_nested_1500_deep_is_cut_not_a_crash() -> None:
    import json

    from harness.untrusted import MAX_EVIDENCE_DEPTH, nesting_depth

    body: list[object] = []
    inner = body
    for _ in range(1500):
        inner.append([])
        inner = inner[0]  # type: ignore[assignment]
    evidence = Evidence.response(200, {}, body=None)
    evidence = Evidence(evidence.kind, "deep", {"body": body, "authorization": "Bearer x" * 3})
    assert nesting_depth(evidence.data) <= MAX_EVIDENCE_DEPTH
    assert "nested deeper than" in json.dumps(evidence.data)
    assert evidence.data["authorization"] == REDACTED


def test_secret_previews_show_no_character_of_the_secret() -> None:
    from harness.suites.sast.secrets import _describe

    finding = Evidence.finding("app/settings.py", 3, "B105", "Possible hardcoded password: 'npdb-s3cret-123'")
    assert "npdb" not in json.dumps(finding.data) and "[REDACTED]" in finding.data["message"]
    described = _describe("password assigned to a literal", "hunter2-npdb-XYZ")
    assert "hunt" not in described and "16 characters" in described
