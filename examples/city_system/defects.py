"""Defect switches of the reference city system: one switch breaks exactly one behaviour.

The detection matrix turns each switch on alone and expects exactly the matching check(s) to fail.
Switches come from the launcher (``CitySystem(defects=...)``) or the ``CITY_DEFECTS`` env variable.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

DEFECTS: dict[str, str] = {
    # caller authentication and authorisation (examples/city_system/auth.py, app.py)
    "auth.no_token_accepted": "requests without a bearer token are served as an anonymous portal client",
    "auth.malformed_token_500": "a token that is not a JWT makes the server crash with 500",
    "auth.exp_not_checked": "expired tokens are accepted",
    "auth.nbf_not_checked": "tokens not yet valid (nbf in the future) are accepted",
    "auth.iss_not_checked": "tokens from any issuer are accepted",
    "auth.aud_not_checked": "tokens for any audience (e.g. npdb) are accepted",
    "auth.alg_none_accepted": "unsigned tokens with alg none are accepted",
    "auth.hs256_key_confusion": "HS256 tokens are verified with the issuer's public key PEM as HMAC secret",
    "auth.unknown_key_accepted": "a kid not in the JWKS makes the token be decoded without verification",
    "auth.jku_followed": "keys are fetched from the token's jku header URL (loopback only)",
    "auth.stripped_signature_accepted": "a token with an empty signature segment is accepted",
    "auth.scope_not_enforced": "scopes are not checked (a read-only client can submit dossiers)",
    "auth.bola": "any client can read any dossier by id (broken object-level authorisation)",
    "auth.no_rate_limit": "no per-client rate limit",
    "auth.leaky_errors": "a malformed JSON body is answered 400 with the Python traceback as the Error message",
    "auth.notification_unsigned_accepted": "notifications with missing or bad HMAC signature are accepted",
    "auth.notification_replay_accepted": "a byte-identical replay of a notification is accepted (no 409)",
    "auth.bola_list": "GET /dossiers lists every client's dossiers, not only the caller's",
    "auth.idempotency_shared": "Idempotency-Keys are shared across clients (another client's key returns its dossier)",
    "auth.idempotency_ignored": "Idempotency-Key is ignored (a replayed submission creates a second dossier)",
    "auth.read_scope_not_enforced": "GET operations do not require scope dossier.read",
    "auth.no_body_limit": "no request body limit (bodies over 64 KiB are processed, never 413)",
    "auth.notification_stale_accepted": "notification timestamps are not checked against the 300 s window",
    "auth.malformed_json_422": "a body that is not JSON is answered 422 (a framework's default), not the spec's 400 for a malformed request",
    "auth.notification_bad_signature_403": "a notification with a missing or bad signature is refused with 403, not the spec's 401",
    "auth.notification_redelivery_conflict": "a redelivered notification (same event_id, fresh signature) is answered 409, not 200",
    "auth.validation_echoes_input": "422 validation errors echo the invalid input values (e.g. a personal_id)",
    # mutual TLS (server.py)
    "mtls.optional": "client certificate not required although the config requires mTLS",
    "mtls.expired_cert_accepted": "expired client certificates are accepted",
    "mtls.foreign_ca_accepted": "client certificates from a foreign CA are accepted",
    # API conformance (app.py, openapi.py)
    "schema.dob_wrong_format": "dossier responses render date_of_birth as dd/mm/yyyy",
    "conformance.server_error_on_bad_input": "an over-long full_name crashes the server with 500",
    "conformance.accepts_invalid_input": "personal_id is not validated (an 11-digit or non-numeric id is accepted with 201)",
    "conformance.undocumented_status": "POST /dossiers answers 200 where the spec says 201",
    "conformance.wrong_content_type": "GET /dossiers/{id} answers with Content-Type text/plain",
    "conformance.spec_drift": "published /openapi.json drops GET /dossiers and Dossier.updated_at",
    "conformance.not_readable_after_create": "a dossier just created answers 404 for its first 2 s",
    "conformance.slow_responses": "GET /dossiers takes 1.2 s (over the profile's response-time limit)",
    "conformance.slow_every_response": "every successful response takes 600 ms longer (under the response-time limit, over the latency budget)",
    "conformance.rejects_valid_input": "an Idempotency-Key longer than 64 characters is refused with 400 (the spec allows up to 128)",
    "conformance.missing_token_403": "POST /dossiers without an Authorization header answers 403 (scope checked first), not 401",
    # NPDB client behaviour (npdb_client.py, processing.py, worker.py)
    "npdb.missing_purpose_code": "NPDB calls are sent without X-Purpose-Code",
    "npdb.overfetch_fields": "citizen lookups ask for every field instead of those the procedure needs",
    "npdb.redundant_calls": "each person is looked up / verified twice",
    "npdb.no_retry": "no retry on NPDB 5xx, 429, timeouts or resets",
    "npdb.loses_dossier_on_failure": "a dossier whose NPDB calls fail is deleted instead of kept pending",
    "npdb.shared_credentials": "the NPDB is called with the other-system client's credentials",
    "npdb.ignores_retry_after": "on NPDB 429 retries immediately, ignoring Retry-After",
    "scenario.wrong_outcome": "approves a marriage where one spouse is already married",
    # load behaviour (app.py)
    "load.slow_path": "POST /dossiers takes ~400 ms longer",
    "load.errors_under_load": "5% of dossier requests answer 503",
    "load.low_capacity": "requests are served one at a time, 60 ms each (about 16 requests/s)",
    # implemented by other modules: tls_profile.py, firewall_policy.py, source_tree.py
    "tls.allows_tls10": "server accepts TLS 1.0",
    "tls.weak_ciphers": "server offers non-AEAD / non-forward-secret cipher suites",
    "tls.expiring_cert": "server certificate expires within 14 days",
    "tls.hostname_mismatch": "server certificate does not name the host it is served on",
    "tls.self_signed": "server certificate is self-signed instead of issued by the national CA",
    "tls.long_lived_cert": "server certificate valid for more than 398 days",
    "firewall.any_any": "firewall policy has an any-to-any accept rule",
    "firewall.default_accept": "firewall default policy is ACCEPT",
    "firewall.ssh_open": "SSH reachable from anywhere",
    "firewall.inbound_not_restricted": "connection API reachable from any source, not only the portal",
    "firewall.egress_open": "egress not restricted to the NPDB endpoints",
    "firewall.shadowed_rule": "a drop rule is shadowed by an earlier broader accept",
    "sast.verify_false": "source disables TLS verification (verify=False)",
    "sast.hardcoded_secret": "source contains a hard-coded secret",
    "sast.tls_verify_session": "source calls session.post(..., verify=False) on a Session built in a helper",
    "firewall.ipv6_open": "the IPv6 policy accepts everything (dual-stack host hardened for IPv4 only)",
    "firewall.icmpv6_dropped": "all ICMPv6 dropped, breaking neighbour discovery and path MTU discovery",
    "firewall.ipv6_missing": "dual-stack host submits no IPv6 ruleset",
    "firewall.live_port_open": "the deployed host answers on a port the declared ruleset drops",
    "sast.tls_verify_dodged": "source turns TLS verification off without verify=False: setattr(session, 'verify', bool(0)), a built verify='' keyword, CURL_CA_BUNDLE=''",
    # issue 20, exact statuses of the connection spec (auth suite: access.py, methods.py, bodies.py, ratelimit.py)
    "auth.foreign_dossier_403": "another client's dossier is answered 403 instead of the documented 404 (an existence oracle)",
    "auth.idempotency_tenant_conflict": "another client's reuse of an Idempotency-Key is answered 409 instead of being unrelated (reveals the key is in use)",
    "auth.undocumented_delete": "DELETE /connection/v1/dossiers/{id}, an operation the spec does not document, answers 200 and deletes the caller's dossier",
    "auth.dossier_any_media_type": "POST /connection/v1/dossiers processes a body sent as text/plain instead of answering 415",
    "auth.notification_any_media_type": "the notification webhook accepts a signed body sent as text/plain instead of answering 415",
    "auth.validation_400": "a dossier submission that is well-formed JSON but breaks the schema is answered 400 instead of 422",
    "auth.notification_schema_unchecked": "the notification webhook accepts a signed JSON body that breaks the Notification schema (no 422)",
    "auth.body_limit_html_413": "an oversize body is answered 413 with an HTML page (a front end's), not the spec's JSON Error body",
    "auth.global_rate_limit": "the rate limit is global, not per client: one client's burst gets every client 429",
    # issue 20, probesdata: list parameters (app.py list_dossiers), response headers, field choice
    "auth.list_limit_capped": "GET /dossiers lists at most 10 dossiers whatever the limit (limit ignored past 10)",
    "auth.list_limit_unchecked": "GET /dossiers clamps an out-of-range or non-integer limit instead of refusing it",
    "auth.list_oldest_first": "GET /dossiers lists the oldest dossiers first",
    "auth.list_filter_ignored": "GET /dossiers ignores the status filter (every status is listed)",
    "auth.location_missing": "POST /dossiers answers 201 without the Location header",
    "auth.challenge_missing": "401 answers carry no WWW-Authenticate challenge",
    "npdb.overfetch_purpose_fields": "citizen lookups ask for the purpose's whole field list (purposes.yaml) instead of the fields the procedure reads",
    "npdb.request_id_not_uuid": "X-Request-Id of NPDB data calls for a dossier is 32 hex digits, not a UUID (the mock accepts it, the spec's format uuid does not)",
    # issue 20, gaps: obligations no other check decided (scenario suite, auth suite)
    "auth.sequential_dossier_id": "dossier ids are a counter dressed as UUID v4 (version and variant bits right, the rest sequential: guessable)",
    "auth.error_fields_everywhere": "a 404 Error body carries fields: [dossier_id], though the spec gives fields to validation errors only",
    "auth.notification_ack_always_accepted": "a redelivered notification is acknowledged with status accepted instead of duplicate (it is not applied twice)",
    "scenario.completed_without_outcome": "a dossier that ends completed keeps outcome null instead of approved",
    "scenario.not_found_approved": "an NPDB 404 (a deceased or a household the NPDB does not know) is taken as nothing against the dossier: approved",
}

ENV_VAR = "CITY_DEFECTS"


def parse(spec: str | Iterable[str] | None) -> frozenset[str]:
    """Parse ``a,b`` or an iterable of names; unknown names are an error (a typo must not pass silently)."""
    if spec is None:
        return frozenset()
    names = spec.split(",") if isinstance(spec, str) else list(spec)
    chosen = frozenset(n.strip() for n in names if n and n.strip())
    unknown = sorted(chosen - DEFECTS.keys())
    if unknown:
        raise ValueError(f"unknown defect switch(es): {', '.join(unknown)}; see examples/city_system/defects.py")
    return chosen


_active: frozenset[str] | None = None


def configure(defects: Iterable[str] | None) -> None:
    """Set the active switches for this process (the server calls it at start; tests may too)."""
    global _active
    _active = parse(list(defects or ()))


def current() -> frozenset[str]:
    if _active is None:
        return parse(os.environ.get(ENV_VAR, ""))
    return _active


def active(name: str) -> bool:
    """Whether the defect switch ``name`` is on in this process."""
    if name not in DEFECTS:
        raise KeyError(f"unknown defect switch {name!r}")
    return name in current()
