"""How a probe's answer becomes a result.

A probe is one request to a protected SUT operation with a chosen credential; the judgement
helpers turn a list of probes into pass / fail / error with the request, the response and a
curl reproduction per probe, so every check reads the same way.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jsonschema import Draft202012Validator

from harness.checks import CheckResult, Evidence, ShellVariable, Status
from harness.net import Exchange, TlsMaterial, curl_command, tls_variables
from harness.suites.auth.forge import decode_segment
from harness.suites.auth.spec import error_schema
from harness.sut.portal import API_BASE_PATH

API = API_BASE_PATH
READ_PATH = f"{API}/dossiers?limit=1"  # the protected read every token probe uses
DOSSIERS_PATH = f"{API}/dossiers"
NOTIFICATIONS_PATH = f"{API}/notifications"
PORTAL_B = "portal-b"
PORTAL_READONLY = "portal-readonly"
REFUSED = frozenset({401, 403})


@dataclass(frozen=True)
class Probe:
    """One request sent by a check and what it was meant to show."""

    description: str
    exchange: Exchange
    tls: TlsMaterial | None = None
    token: str | None = None
    # Set when ``token`` is a genuine credential (AuthContext.token without tampering): the
    # reproduction names it $TOKEN. Any other token is a forgery and is shown as sent.
    credential: ShellVariable | None = None

    def evidence(self) -> tuple[Evidence, ...]:
        ex = self.exchange
        request = Evidence.request(ex.method, ex.url, ex.request_headers, ex.request_body,
                                   title=f"request: {self.description}")
        if ex.error:
            response = Evidence.response(None, {}, f"no usable response: {ex.error}",
                                         ex.elapsed_ms, title=f"response to {self.description}")
        else:
            body: Any = ex.text + (" [truncated]" if ex.truncated else "")
            response = Evidence.response(ex.status, ex.headers, body, ex.elapsed_ms,
                                         title=f"response to {self.description}")
        body_text = ex.request_body if isinstance(ex.request_body, (str, bytes)) or \
            ex.request_body is None else json.dumps(ex.request_body, ensure_ascii=False)
        if isinstance(body_text, bytes):
            body_text = body_text.decode("utf-8", errors="replace")
        headers = dict(ex.request_headers)
        shown: list[str] = []
        for name in [h for h in headers if h.lower() == "authorization"]:
            if self.credential is not None:
                headers[name] = "Bearer $TOKEN"
            elif self.token:
                shown.append(self.token)  # a forgery: the command sends what was accepted
        # A notification signature binds one body at one second (300 s window): not a credential.
        shown += [v for h, v in headers.items() if h.lower() == "x-npdb-signature" and v]
        variables = (*tls_variables(self.tls), *([self.credential] if self.credential else []))
        repro = Evidence.reproduction(curl_command(ex.method, ex.url, headers, body_text,
                                                   self.tls),
                                      variables=variables, shown=shown)
        parts: list[Evidence] = [request, response, repro]
        if self.token and self.token.count(".") == 2:
            header = decode_segment(self.token.split(".")[0])
            claims = decode_segment(self.token.split(".")[1])
            if header or claims:  # what the token says, so a reader sees the forgery
                contents = json.dumps({"header": header, "claims": claims}, ensure_ascii=False)
                parts.append(Evidence.note(contents, title="token contents"))
        return tuple(parts)


def said(ex: Exchange) -> str:
    return f"no usable response: {ex.error}" if ex.error else f"HTTP {ex.status}"


def expect_refused(probes: Sequence[Probe], *, what: str, accepted_means: str,
                   refused: frozenset[int] = REFUSED) -> CheckResult:
    """Pass when every probe got a refusal status; fail on acceptance, crash or odd answer."""
    failures: list[Probe] = []
    errors: list[Probe] = []
    for probe in probes:
        ex = probe.exchange
        if ex.error is not None or ex.status is None or ex.status == 429:
            errors.append(probe)
        elif ex.status not in refused:
            failures.append(probe)
    if failures:
        first = failures[0].exchange
        verb = (accepted_means if first.status is not None and 200 <= first.status < 300
                else f"answered HTTP {first.status} where {_codes(refused)} was expected")
        return CheckResult.failed(
            f"{what}: {failures[0].description} → {verb}"
            + (f" (and {len(failures) - 1} more variant(s))" if len(failures) > 1 else ""),
            *[e for p in failures[:3] for e in p.evidence()], failed_variants=len(failures))
    if errors:
        return CheckResult.errored(
            f"{what}: could not decide, {errors[0].description} → {said(errors[0].exchange)}",
            *[e for p in errors[:2] for e in p.evidence()])
    kinds = ", ".join(p.description for p in probes)
    return CheckResult.passed(
        f"{what}: refused with {_codes(frozenset(p.exchange.status or 0 for p in probes))} "
        f"({len(probes)} variant(s))",
        *probes[0].evidence(), Evidence.note(kinds, title="variants sent"),
        variants=len(probes))


def send_until_error(make: Sequence[tuple[str, Any]], send: Any) -> list[Probe]:
    """Send variants in order; stop after the first one without a usable answer (a hung SUT
    must not make a check wait once per variant)."""
    probes: list[Probe] = []
    for description, value in make:
        probe: Probe = send(description, value)
        probes.append(probe)
        if probe.exchange.error is not None:
            break
    return probes


def _codes(statuses: frozenset[int]) -> str:
    return "/".join(str(s) for s in sorted(statuses))


@lru_cache(maxsize=1)
def _error_validator() -> Draft202012Validator:
    return Draft202012Validator(error_schema())


def error_body_problem(ex: Exchange) -> str | None:
    """What keeps an error response from being the spec's ``Error`` body (application/json,
    matching components.schemas.Error), or None. Names the schema keyword and the location only:
    the SUT's own text stays in the evidence."""
    if ex.content_type != "application/json":
        return f"its Content-Type is {ex.content_type or 'missing'}, not application/json"
    body = ex.json()
    if body is None:
        return "its body is not JSON"
    problems = sorted(_error_validator().iter_errors(body), key=lambda e: list(e.absolute_path))
    if not problems:
        return None
    first = problems[0]
    where = "/" + "/".join(str(p) for p in first.absolute_path)
    return f"its body is not the spec's Error ({where} fails '{first.validator}')"


def expect_documented_error(probes: Sequence[Probe], status: int, *, what: str,
                            accepted_means: str) -> CheckResult:
    """Pass when every probe got exactly ``status`` with the spec's Error body."""
    result = expect_refused(probes, what=what, accepted_means=accepted_means,
                            refused=frozenset({status}))
    if result.status != Status.PASS:
        return result
    wrong = [(p, problem) for p in probes if (problem := error_body_problem(p.exchange))]
    if wrong:
        probe, problem = wrong[0]
        return CheckResult.failed(
            f"{what}: {probe.description} → HTTP {status}, but {problem}"
            + (f" (and {len(wrong) - 1} more)" if len(wrong) > 1 else ""),
            *probe.evidence(), failed_variants=len(wrong))
    return result
