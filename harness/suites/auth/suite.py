"""The auth suite's declaration: its checks in run order and the state they share."""

from __future__ import annotations

from harness.registry import Suite
from harness.suites.auth.access import error_leak, object_level, scope_enforced
from harness.suites.auth.answers import error_fields, notify_ack
from harness.suites.auth.bodies import body_limit, malformed_body, media_type, schema_violation
from harness.suites.auth.context import AuthContext, make_context
from harness.suites.auth.headers import response_headers
from harness.suites.auth.identifiers import dossier_id
from harness.suites.auth.listing import list_filters, list_limit
from harness.suites.auth.methods import undocumented_method
from harness.suites.auth.mtls import mtls_expired, mtls_foreign_ca, mtls_required
from harness.suites.auth.notify import (
    notify_freshness,
    notify_redelivery,
    notify_replay,
    notify_signature,
)
from harness.suites.auth.ratelimit import rate_limit
from harness.suites.auth.tenancy import (
    bola_list,
    idempotency_replay,
    idempotency_tenant,
)
from harness.suites.auth.tokens import (
    jwt_alg_none,
    jwt_audience,
    jwt_expired,
    jwt_issuer,
    jwt_jku,
    jwt_key_confusion,
    jwt_not_yet_valid,
    jwt_stripped_signature,
    jwt_unknown_key,
    token_malformed,
    token_missing,
)

# Run order: the token checks, the webhook, mTLS, tenancy, then access and request bodies; the
# undocumented methods late (on a broken SUT a DELETE may remove dossiers earlier checks use);
# rate limiting last, it spends a client's budget.
SUITE = Suite[AuthContext]("auth", make_context, checks=(
    token_missing, token_malformed, jwt_expired, jwt_not_yet_valid, jwt_issuer, jwt_audience,
    jwt_alg_none, jwt_key_confusion, jwt_unknown_key, jwt_jku, jwt_stripped_signature,
    notify_signature, notify_replay, notify_freshness, notify_redelivery, notify_ack,
    mtls_required, mtls_expired, mtls_foreign_ca,
    bola_list, idempotency_tenant, idempotency_replay,
    list_limit, list_filters, response_headers,
    scope_enforced, object_level, dossier_id, body_limit, media_type, schema_violation, malformed_body,
    error_leak,
    error_fields,
    undocumented_method, rate_limit),
    state={
        "state.baseline": (
            "AuthContext.baseline_problem(), called first by every check that needs a served "
            "genuine token (most token checks, mTLS, tenancy, access), reads the genuine-token "
            "probe it made, making it when empty; emptied after a 429 so the next check asks "
            "again"),
        "state.own_dossier": (
            "AuthContext.own_dossier(): the dossier portal submitted, made by the first check "
            "needing one (AUTH-BOLA-LIST, AUTH-SCOPE, AUTH-OBJECT-LEVEL, AUTH-DOSSIER-ID) and reused by the "
            "later ones; not kept when the submission failed"),
        "state.subscription_id": (
            "notify.genuine_notification() sets it from the delivery the mock made to the SUT "
            "(AUTH-NOTIFY-SIGNATURE first); notify.npdb_signature() reads it, capturing a "
            "delivery itself when it is empty (AUTH-NOTIFY-FRESHNESS, AUTH-NOTIFY-REDELIVERY, "
            "AUTH-BODY-LIMIT, AUTH-MEDIA-TYPE, AUTH-SCHEMA-VIOLATION)"),
        "state.no_subscription": (
            "notify.genuine_notification() sets it when the SUT showed no subscription within "
            "SUBSCRIBE_WAIT_S; the later notification checks then end with the same error at "
            "once instead of waiting again"),
        "state.list_fill": (
            "listing.own_dossiers(): the portal's dossiers the list checks judge, topped up by "
            "bounded submissions by the first list check (AUTH-LIST-LIMIT) and reused by "
            "AUTH-LIST-FILTERS; not kept when a submission or the first listing failed"),
        "state.credentials": (
            "AuthContext.token() records each genuine token it mints (every check minting one); "
            "AuthContext.read()/post() look the token up so a reproduction names a genuine "
            "credential $TOKEN and shows a forged one as sent; a token never minted is a forgery"),
    })
