"""The connection spec is valid OpenAPI 3.1 and complete; the defect switchboard is well formed."""

from __future__ import annotations

import pytest
from openapi_spec_validator import validate

from popcert_city import defects
from popcert_city.procedures import PROCEDURES
from popcert_city.spec import CREATE_SCHEMAS, reference_spec

REQUIRED_SWITCHES = ["auth.no_token_accepted", "auth.malformed_token_500", "auth.exp_not_checked", "auth.nbf_not_checked", "auth.iss_not_checked", "auth.aud_not_checked", "auth.alg_none_accepted", "auth.hs256_key_confusion", "auth.unknown_key_accepted", "auth.jku_followed", "auth.stripped_signature_accepted", "auth.scope_not_enforced", "auth.bola", "auth.no_rate_limit", "auth.leaky_errors", "auth.notification_unsigned_accepted", "auth.notification_replay_accepted", "mtls.optional", "mtls.expired_cert_accepted", "mtls.foreign_ca_accepted", "schema.dob_wrong_format", "conformance.server_error_on_bad_input", "conformance.accepts_invalid_input", "conformance.undocumented_status", "conformance.wrong_content_type", "conformance.spec_drift", "npdb.missing_purpose_code", "npdb.overfetch_fields", "npdb.redundant_calls", "npdb.no_retry", "npdb.loses_dossier_on_failure", "npdb.shared_credentials", "npdb.ignores_retry_after", "scenario.wrong_outcome", "load.slow_path", "load.errors_under_load", "tls.allows_tls10", "tls.weak_ciphers", "tls.expiring_cert", "tls.hostname_mismatch", "tls.self_signed", "tls.long_lived_cert", "firewall.any_any", "firewall.default_accept", "firewall.ssh_open", "firewall.inbound_not_restricted", "firewall.egress_open", "firewall.shadowed_rule", "sast.verify_false", "sast.hardcoded_secret", "auth.bola_list", "auth.idempotency_shared", "auth.idempotency_ignored", "auth.read_scope_not_enforced", "auth.no_body_limit", "auth.notification_stale_accepted", "auth.notification_redelivery_conflict", "auth.validation_echoes_input"]


def test_spec_is_valid_openapi_31() -> None:
    spec = reference_spec()
    assert spec["openapi"].startswith("3.1")
    validate(spec)


def test_every_procedure_has_a_schema_and_a_rule() -> None:
    mapping = reference_spec()["components"]["schemas"]["DossierCreate"]["discriminator"]["mapping"]
    assert set(mapping) == set(CREATE_SCHEMAS) == set(PROCEDURES)


def test_create_links_to_get_for_stateful_testing() -> None:
    created = reference_spec()["paths"]["/connection/v1/dossiers"]["post"]["responses"]["201"]
    link = created["links"]["GetDossierById"]
    assert link["operationId"] == "getDossier"
    assert link["parameters"] == {"dossier_id": "$response.body#/dossier_id"}


@pytest.mark.parametrize("method,path", [("post", "/connection/v1/dossiers"), ("get", "/connection/v1/dossiers"),
                                         ("get", "/connection/v1/dossiers/{dossier_id}")])
def test_protected_operations_document_every_error(method: str, path: str) -> None:
    responses = reference_spec()["paths"][path][method]["responses"]
    assert {"400", "401", "403", "429", "503"} <= set(responses)
    for code, response in responses.items():
        if code.startswith(("4", "5")):
            assert response["$ref"].startswith("#/components/responses/")


@pytest.mark.parametrize("method,path,scope", [
    ("post", "/connection/v1/dossiers", "dossier.submit"), ("get", "/connection/v1/dossiers", "dossier.read"),
    ("get", "/connection/v1/dossiers/{dossier_id}", "dossier.read")])
def test_scoped_operations_name_their_scope_in_every_security_alternative(method: str, path: str,
                                                                          scope: str) -> None:
    security = reference_spec()["paths"][path][method]["security"]
    assert security and all(alternative["nationalToken"] == [scope] for alternative in security)


def test_notifications_need_no_bearer_but_document_401_409() -> None:
    operation = reference_spec()["paths"]["/connection/v1/notifications"]["post"]
    assert operation["security"] == []
    assert {"401", "409"} <= set(operation["responses"])


def test_switchboard_lists_every_required_switch() -> None:
    assert set(REQUIRED_SWITCHES) <= set(defects.DEFECTS)
    assert all(description.strip() for description in defects.DEFECTS.values())


def test_switch_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="unknown defect"):
        defects.parse("auth.bola,auth.typo")
    defects._active = None  # read the environment, like a server started with CITY_DEFECTS
    monkeypatch.setenv(defects.ENV_VAR, "auth.bola, npdb.no_retry")
    assert defects.active("auth.bola") and defects.active("npdb.no_retry")
    assert not defects.active("auth.no_rate_limit")
