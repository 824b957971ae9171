"""AUTH checks of tenant isolation beyond GET by id: a client's dossier list never shows another
client's dossiers, and Idempotency-Keys are per client and honoured (connection/v1: "A portal
client only ever sees its own dossiers"; the ``Idempotency-Key`` parameter).
Listed in ``harness.suites.auth.suite.SUITE``.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from harness.checks import CheckResult, Evidence, Severity, check
from harness.suites.auth.context import AuthContext
from harness.suites.auth.probe import DOSSIERS_PATH, PORTAL_B, Probe
from harness.suites.auth.spec import connection_spec

LIST_LIMIT = 100  # the spec's maximum page size
OWNER_LIST_WAIT_S = 3.0
CREATED = 201  # createDossier's documented success: "Dossier accepted and stored."  # a just-created dossier may take a moment to be listed


def _said(probe: Probe) -> str:
    ex = probe.exchange
    return f"no usable response: {ex.error}" if ex.error else f"HTTP {ex.status}"


def _usable(probe: Probe) -> bool:
    ex = probe.exchange
    return ex.error is None and ex.status is not None and ex.status != 429


def _created_id(probe: Probe) -> str | None:
    ex = probe.exchange
    body = ex.json()
    if ex.status is None or not 200 <= ex.status < 300 or not isinstance(body, dict):
        return None
    dossier_id = body.get("dossier_id")
    return dossier_id if isinstance(dossier_id, str) else None


def _listed_ids(probe: Probe) -> set[str] | None:
    body = probe.exchange.json()
    items = body.get("items") if isinstance(body, dict) else None
    if not isinstance(items, list):
        return None
    return {str(i["dossier_id"]) for i in items if isinstance(i, dict) and "dossier_id" in i}


def list_filters() -> list[str]:
    """Query strings a list operation accepts (each enum value of its filters), from the spec."""
    spec = connection_spec()
    operation = (spec.get("paths") or {}).get(DOSSIERS_PATH, {}).get("get") or {}
    schemas = (spec.get("components") or {}).get("schemas") or {}
    filters = []
    for parameter in operation.get("parameters") or []:
        if not isinstance(parameter, dict) or parameter.get("in") != "query":
            continue
        schema: Any = parameter.get("schema") or {}
        ref = schema.get("$ref", "") if isinstance(schema, dict) else ""
        if ref:
            schema = schemas.get(ref.rsplit("/", 1)[-1]) or {}
        for value in schema.get("enum") or []:
            filters.append(f"{parameter['name']}={value}")
    return filters


@check("AUTH-BOLA-LIST", severity=Severity.CRITICAL,
       requirements=["CONN-SEC-OWN-DOSSIERS", "CONN-DOSSIER-LIST-OWN", "OWASP-API1-2023"],
       defect="auth.bola_list")
def bola_list(ctx: AuthContext) -> CheckResult:
    """Another portal tenant's dossier list (unfiltered and with each filter) never shows the
    dossiers of the client that submitted them."""
    dossier_id, created = ctx.own_dossier()
    if dossier_id is None:
        return CheckResult.errored("could not create a dossier to probe with", *created.evidence())
    page = f"{DOSSIERS_PATH}?limit={LIST_LIMIT}"
    deadline = time.monotonic() + OWNER_LIST_WAIT_S
    while True:
        owner = ctx.read("owner (portal) listing its own dossiers", ctx.token(), path=page)
        owner_ids = _listed_ids(owner) or set()
        if dossier_id in owner_ids or time.monotonic() > deadline or not _usable(owner):
            break
        time.sleep(0.5)
    if dossier_id not in owner_ids:
        return CheckResult.errored(
            f"the owner's own list does not show the dossier it just submitted ({_said(owner)}), "
            "so its absence from another tenant's list proves nothing", *owner.evidence())
    other_token = ctx.token(PORTAL_B)
    probes = [ctx.read("portal-b listing dossiers", other_token, path=page)]
    for query in list_filters():
        if not _usable(probes[-1]):
            break
        probes.append(ctx.read(f"portal-b listing dossiers with {query}", other_token,
                               path=f"{page}&{query}"))
    leaking = [(p, (_listed_ids(p) or set()) & owner_ids) for p in probes
               if p.exchange.status is not None and 200 <= p.exchange.status < 300]
    leaking = [(p, ids) for p, ids in leaking if ids or dossier_id in p.exchange.text]
    if leaking:
        probe, ids = leaking[0]
        return CheckResult.failed(
            f"{probe.description} → HTTP {probe.exchange.status} showing {max(len(ids), 1)} of "
            f"portal's dossiers (e.g. {dossier_id}): a client's list includes another client's "
            "dossiers", *probe.evidence(),
            Evidence.note(", ".join(sorted(ids)[:10]), title="portal's dossier ids listed to portal-b"),
            leaking_lists=len(leaking), leaked_dossiers=len(ids))
    unusable = [p for p in probes if not _usable(p)]
    served = [p for p in probes if p.exchange.status is not None and 200 <= p.exchange.status < 300]
    if unusable or not served:
        bad = unusable[0] if unusable else probes[0]
        return CheckResult.errored(f"could not decide: {bad.description} → {_said(bad)}",
                                   *bad.evidence())
    return CheckResult.passed(
        f"portal-b's lists ({len(probes)} queries) show none of portal's {len(owner_ids)} listed "
        f"dossiers", *probes[0].evidence(),
        Evidence.note(", ".join(p.description for p in probes), title="queries sent"),
        queries=len(probes))


def _key() -> str:
    return f"popcert-{uuid.uuid4().hex}"


@check("AUTH-IDEMPOTENCY-TENANT", severity=Severity.CRITICAL,
       requirements=["CONN-SEC-OWN-DOSSIERS", "CONN-IDEMPOTENCY-CLIENT-SCOPE", "OWASP-API1-2023"],
       defect=("auth.idempotency_shared", "auth.idempotency_tenant_conflict"),
       title="Another tenant reusing a client's Idempotency-Key with the same body gets a new "
             "dossier of its own (201), never that client's dossier and never a conflict.")
def idempotency_tenant(ctx: AuthContext) -> CheckResult:
    """Another tenant reusing a client's Idempotency-Key (same body) is served as for a key never
    used: 201 with a dossier of its own. The spec: another client's use of the key "is unrelated
    and never returns the first client's dossier"; a 409 (or any refusal) tells that client the
    key is in use by someone else."""
    if (problem := ctx.baseline_problem()) is not None:
        return problem
    key = _key()
    body = ctx.dossier_body(3)
    first = ctx.post("portal submitting a dossier with a new Idempotency-Key", ctx.token(), body,
                     headers={"Idempotency-Key": key})
    first_id = _created_id(first)
    if first_id is None:
        return CheckResult.errored(f"the first submission was not accepted ({_said(first)}), so "
                                   "another tenant's reuse of its key proves nothing",
                                   *first.evidence())
    other = ctx.post("portal-b submitting the same body with portal's Idempotency-Key",
                     ctx.token(PORTAL_B), body, headers={"Idempotency-Key": key})
    ex = other.exchange
    if not _usable(other):
        return CheckResult.errored(f"could not decide: {other.description} → {_said(other)}",
                                   *other.evidence())
    if first_id in ex.text:
        return CheckResult.failed(
            f"{other.description} → HTTP {ex.status} with portal's dossier {first_id}: "
            "Idempotency-Keys are shared across clients", *other.evidence(), *first.evidence())
    own_id = _created_id(other)
    if ex.status == CREATED and own_id is not None:
        return CheckResult.passed(f"{other.description} → HTTP 201 with a dossier of its own "
                                  f"({own_id})", *other.evidence())
    what = ("a refusal that tells portal-b the key is in use by another client"
            if ex.status is not None and 400 <= ex.status < 500 else "not a new dossier")
    return CheckResult.failed(f"{other.description} → HTTP {ex.status} where 201 with a dossier "
                              f"of its own was expected ({what})", *other.evidence())


@check("AUTH-IDEMPOTENCY-REPLAY", severity=Severity.MEDIUM,
       requirements=["CONN-IDEMPOTENCY-KEY"], defect="auth.idempotency_ignored")
def idempotency_replay(ctx: AuthContext) -> CheckResult:
    """A submission repeated with the same Idempotency-Key and body returns the same dossier (no
    second one); the same key with another body is 409."""
    if (problem := ctx.baseline_problem()) is not None:
        return problem
    key = _key()
    body = ctx.dossier_body(4)
    token = ctx.token()
    first = ctx.post("portal submitting a dossier with a new Idempotency-Key", token, body,
                     headers={"Idempotency-Key": key})
    first_id = _created_id(first)
    if first_id is None:
        return CheckResult.errored(f"the first submission was not accepted ({_said(first)}), so "
                                   "its replay proves nothing", *first.evidence())
    again = ctx.post("the same submission repeated with the same Idempotency-Key", token, body,
                     headers={"Idempotency-Key": key})
    if not _usable(again):
        return CheckResult.errored(f"could not decide: {again.description} → {_said(again)}",
                                   *again.evidence())
    again_id = _created_id(again)
    if again_id != first_id:
        what = (f"created a second dossier {again_id}" if again_id is not None
                else f"answered HTTP {again.exchange.status} instead of the same dossier")
        return CheckResult.failed(f"{again.description} → {what} (first: {first_id})",
                                  *again.evidence(), *first.evidence())
    changed = ctx.dossier_body(5)
    if changed == body:
        changed = ctx.dossier_body(6)
    conflict = ctx.post("another body sent with the same Idempotency-Key", token, changed,
                        headers={"Idempotency-Key": key})
    if not _usable(conflict):
        return CheckResult.errored(f"could not decide: {conflict.description} → "
                                   f"{_said(conflict)}", *conflict.evidence())
    if conflict.exchange.status != 409:
        return CheckResult.failed(
            f"{conflict.description} → HTTP {conflict.exchange.status} where 409 was expected"
            + (" (the key was not honoured)" if _created_id(conflict) not in (None, first_id)
               else ""), *conflict.evidence())
    return CheckResult.passed(
        f"the repeated submission returned the same dossier {first_id} "
        f"(HTTP {again.exchange.status}); another body under the key → 409",
        *again.evidence(), *conflict.evidence())
