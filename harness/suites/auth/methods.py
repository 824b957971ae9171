"""AUTH check of the methods a path does not document: none of them is an operation. Each is sent,
with and without a genuine token, to every path of specs/connection/v1; the answer must be a
refusal (405, or 401/403/404), never 2xx, and a dossier the caller owns must be there unchanged
afterwards (RFC 9110 §15.5.6; the spec's ``paths``). Listed in ``harness.suites.auth.suite.SUITE``.
"""

from __future__ import annotations

import re
import time
from typing import Any

from harness.checks import CheckResult, Evidence, Severity, Status, check
from harness.suites.auth.context import AuthContext
from harness.suites.auth.probe import DOSSIERS_PATH, Probe, expect_refused
from harness.suites.auth.spec import documented_methods

# The methods sent where a path does not document them. Left out, on purpose:
# - HEAD where GET is documented: RFC 9110 §9.3.2 makes HEAD the GET of the same resource without
#   content, so a 2xx there is correct; HEAD is probed where GET is not documented.
# - OPTIONS: RFC 9110 §9.3.7 lets any resource describe its communication options (a 2xx with
#   Allow, a CORS preflight) without acting on the resource, so a 2xx is no operation.
# - CONNECT: RFC 9110 §9.3.6 addresses a proxy with an authority (host:port), not a path; sent to
#   a path it tests the HTTP parser, not the API.
# TRACE is sent: a 2xx echoes the request (bearer token included) back, the cross-site tracing
# hole, and the spec documents it nowhere.
PROBED_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "TRACE")
# 405 is RFC 9110's answer; 401/403/404 refuse before routing by method (no token, no such
# resource for this caller); 501 is RFC 9110 §15.6.2's for a method the server supports nowhere.
REFUSED = frozenset({401, 403, 404, 405, 501})
WITH_BODY = ("POST", "PUT", "PATCH")
RETRY_429_S = 2.0  # one retry after a 429: the probes spend the same client's budget
PROBES_BUDGET_S = 30.0  # bounds the whole sweep (40 requests) on a slow or rate-limiting SUT
UNCHANGED = ("dossier_id", "procedure_code", "applicant", "created_at")


def undocumented(spec_methods: dict[str, frozenset[str]]) -> list[tuple[str, str]]:
    """(method, path) pairs the spec does not document, in spec order."""
    pairs = []
    for path, documented in spec_methods.items():
        for method in PROBED_METHODS:
            if method in documented or (method == "HEAD" and "GET" in documented):
                continue
            pairs.append((method, path))
    return pairs


def _body(ctx: AuthContext, method: str, index: int) -> dict[str, Any] | None:
    if method == "PATCH":  # what a PATCH on a dossier would try: decide it
        return {"status": "completed", "outcome": "approved"}
    return ctx.dossier_body(index) if method in WITH_BODY else None


def _send(ctx: AuthContext, method: str, path: str, token: str | None,
          body: dict[str, Any] | None, description: str) -> Probe:
    headers = {"Accept": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    for attempt in range(2):
        if body is not None:
            headers["Content-Type"] = "application/json"
            exchange = ctx.client.request(method, ctx.url(path), headers=headers, json_body=body)
        else:
            exchange = ctx.client.request(method, ctx.url(path), headers=headers)
        if exchange.status != 429 or attempt:
            break
        retry_after = exchange.headers.get("retry-after", "1")
        time.sleep(min(RETRY_429_S, float(retry_after) if retry_after.isdigit() else 1.0))
    return Probe(description, exchange, ctx.tls, token)


def _created(probe: Probe) -> dict[str, Any] | None:
    body = probe.exchange.json()
    ok = probe.exchange.status in (200, 201) and isinstance(body, dict) \
        and isinstance(body.get("dossier_id"), str)
    return body if ok else None


@check("AUTH-UNDOCUMENTED-METHOD", severity=Severity.HIGH,
       requirements=["CONN-METHODS-DOCUMENTED", "RFC9110-405"], defect="auth.undocumented_delete",
       title="Every method a path of the connection spec does not document is refused (405, or "
             "401/403/404), with and without a genuine token, and changes nothing.")
def undocumented_method(ctx: AuthContext) -> CheckResult:
    """GET, HEAD, POST, PUT, PATCH, DELETE and TRACE, wherever the spec does not document them,
    are refused; a dossier the caller submitted just before is still there, unchanged."""
    if (problem := ctx.baseline_problem()) is not None:
        return problem
    token = ctx.token()
    created = ctx.post("portal submitting a dossier for the method probes to aim at", token,
                       ctx.dossier_body(9))
    original = _created(created)
    if original is None:
        return CheckResult.errored("could not create a dossier to aim the probes at",
                                   *created.evidence())
    dossier_id = str(original["dossier_id"])
    pairs = undocumented(documented_methods())
    probes: list[Probe] = []
    deadline = time.monotonic() + PROBES_BUDGET_S
    for index, (method, template) in enumerate(pairs):
        if time.monotonic() > deadline:
            break
        path = re.sub(r"\{[^}]+\}", dossier_id, template)
        for label, credential in (("without a token", None), ("with portal's token", token)):
            probes.append(_send(ctx, method, path, credential, _body(ctx, method, 20 + index),
                                f"{method} {template} (not in the spec) {label}"))
            if probes[-1].exchange.error is not None:
                break
        if probes and probes[-1].exchange.error is not None:
            break
    result = expect_refused(probes, what="method the spec does not document",
                            accepted_means="served as if it were an operation", refused=REFUSED)
    if result.status == Status.PASS and len(probes) < 2 * len(pairs):
        result = CheckResult.errored(
            f"only {len(probes)} of {2 * len(pairs)} probes were sent within "
            f"{PROBES_BUDGET_S:.0f} s (all refused), so the other methods are unproven",
            *result.evidence)
    after = ctx.read("owner (portal) reading its dossier after the probes", token,
                     path=f"{DOSSIERS_PATH}/{dossier_id}")
    if after.exchange.error is not None or after.exchange.status == 429:
        return result if result.status == Status.FAIL else CheckResult.errored(
            "could not read portal's dossier back after the probes", *after.evidence())
    now = after.exchange.json()
    changed = [f for f in UNCHANGED if not isinstance(now, dict) or now.get(f) != original.get(f)]
    if after.exchange.status != 200 or changed:
        state = ("gone" if after.exchange.status == 404 else
                 f"changed ({', '.join(changed)})" if after.exchange.status == 200
                 else f"not readable (HTTP {after.exchange.status})")
        summary = f"after the undocumented methods, portal's dossier {dossier_id} is {state}"
        if result.status == Status.FAIL:
            summary = f"{result.summary}; {summary}"
        return CheckResult.failed(summary, *result.evidence, *after.evidence(),
                                  **result.measurements)
    sent = Evidence.note("; ".join(f"{m} {p}" for m, p in pairs),
                         title="methods sent where the spec does not document them")
    return CheckResult(result.status, result.summary, (*result.evidence, sent, *after.evidence()),
                       result.measurements)
