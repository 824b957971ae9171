"""What every AUTH check receives (``AuthContext``) and how a probe's answer becomes a result.

A probe is one request to a protected SUT operation with a chosen credential; the judgement
helpers turn a list of probes into pass / fail / error with the request, the response and a
curl reproduction per probe, so every check reads the same way.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from harness.checks import CheckResult, Evidence
from harness.dossiers import RESIDENCE, Person, dossier_body
from harness.net import Exchange, SafeClient, TlsMaterial, curl_command
from harness.portal import API_BASE_PATH, PORTAL, PORTAL_SCOPES
from harness.suites.auth_tokens import decode_segment
from harness.suites.base import RunContext

if TYPE_CHECKING:
    from mocks.population_db.admin_client import AdminClient
    from mocks.population_db.tokens import TokenMinter

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
        repro = Evidence.reproduction(curl_command(ex.method, ex.url, ex.request_headers,
                                                   body_text, self.tls))
        parts: list[Evidence] = [request, response, repro]
        if self.token and self.token.count(".") == 2:
            header = decode_segment(self.token.split(".")[0])
            claims = decode_segment(self.token.split(".")[1])
            if header or claims:  # what the token says, so a reader sees the forgery
                contents = json.dumps({"header": header, "claims": claims}, ensure_ascii=False)
                parts.append(Evidence.note(contents, title="token contents"))
        return tuple(parts)


@dataclass
class AuthContext:
    """The SUT, the token service (mock NPDB) and the clients every AUTH check uses."""

    run: RunContext
    client: SafeClient
    minter: TokenMinter
    admin: AdminClient | None
    tls: TlsMaterial
    mtls_required: bool
    people: list[Person] = field(default_factory=list)
    baseline: Probe | None = None
    _own_dossier: tuple[str, Probe] | None = None
    subscription_id: str | None = None  # the SUT's NPDB subscription, once a delivery showed it

    @property
    def base_url(self) -> str:
        return self.run.base_url

    def url(self, path: str) -> str:
        return self.base_url + path

    # --- credentials --------------------------------------------------------------------
    def token(self, client_id: str = PORTAL, scopes: Sequence[str] = PORTAL_SCOPES,
              **claim_overrides: Any) -> str:
        """A genuine token of the national token service (claims may be overridden)."""
        return str(self.minter.mint(client_id, list(scopes), **claim_overrides))

    def claims(self, client_id: str = PORTAL, scopes: Sequence[str] = PORTAL_SCOPES
               ) -> dict[str, Any]:
        return dict(self.minter.claims(client_id, list(scopes)))

    @property
    def kid(self) -> str:
        return str(self.minter.kid)

    def jwks(self) -> dict[str, Any]:
        return dict(self.minter.public_jwks())

    # --- requests -----------------------------------------------------------------------
    def read(self, description: str, token: str | None, *, path: str = READ_PATH,
             client: SafeClient | None = None, tls: TlsMaterial | None = None) -> Probe:
        headers = {"Accept": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        exchange = (client or self.client).request("GET", self.url(path), headers=headers)
        return Probe(description, exchange, tls or self.tls, token)

    def post(self, description: str, token: str | None, body: Any, *,
             path: str = DOSSIERS_PATH, raw: bytes | None = None,
             headers: dict[str, str] | None = None) -> Probe:
        all_headers = {"Content-Type": "application/json", "Accept": "application/json",
                       **(headers or {})}
        if token is not None:
            all_headers["Authorization"] = f"Bearer {token}"
        if raw is not None:
            exchange = self.client.request("POST", self.url(path), headers=all_headers,
                                           content=raw)
        else:
            exchange = self.client.request("POST", self.url(path), headers=all_headers,
                                           json_body=body)
        return Probe(description, exchange, self.tls, token)

    def dossier_body(self, index: int = 0) -> dict[str, Any]:
        """A valid residence-registration submission for a real person of the mock population."""
        if not self.people:
            raise RuntimeError("no applicants: the mock NPDB population sample was empty")
        person = self.people[index % len(self.people)]
        return dossier_body(RESIDENCE, person, random.Random(self.run.seed + index))

    def own_dossier(self) -> tuple[str | None, Probe]:
        """A dossier submitted by ``portal`` (created once, reused by the checks that need one)."""
        if self._own_dossier is not None:
            return self._own_dossier
        probe = self.post("valid dossier submitted with a portal token (dossier.submit)",
                          self.token(), self.dossier_body())
        body = probe.exchange.json()
        dossier_id = body.get("dossier_id") if isinstance(body, dict) else None
        if probe.exchange.status in (200, 201) and isinstance(dossier_id, str):
            self._own_dossier = (dossier_id, probe)
        return dossier_id if isinstance(dossier_id, str) else None, probe

    # --- preconditions ------------------------------------------------------------------
    def baseline_problem(self) -> CheckResult | None:
        """An ``error`` unless a genuine token is served: a SUT refusing everything proves nothing."""
        if self.baseline is None:
            self.baseline = self.read("genuine portal token (baseline)", self.token())
        ex = self.baseline.exchange
        if ex.error is None and ex.status is not None and 200 <= ex.status < 300:
            return None
        evidence = self.baseline.evidence()
        if ex.status == 429:  # a rate limit from an earlier step, not a verdict: ask again later
            self.baseline = None
        return CheckResult.errored(
            "a genuine portal token is not served on GET /connection/v1/dossiers "
            f"({_said(ex)}), so refusals of forged credentials prove nothing", *evidence)


def _said(ex: Exchange) -> str:
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
            f"{what}: could not decide, {errors[0].description} → {_said(errors[0].exchange)}",
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
