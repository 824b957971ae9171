"""What every AUTH check receives (``AuthContext``) and its factory.

The portal's client and the token service's minter (the mock NPDB's); a run without the mock
NPDB stops the suite (SuiteUnavailable). What a check may leave for later checks is in
``AuthState`` (written down in harness.suites.auth.suite).
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.checks import CheckResult, Evidence, ShellVariable, SuiteUnavailable
from harness.net import SafeClient, TlsMaterial, token_variable
from harness.run_context import RunContext
from harness.suites.auth.probe import DOSSIERS_PATH, READ_PATH, Probe, said
from harness.sut.dossiers import RESIDENCE, Person, dossier_body, synthetic_people
from harness.sut.npdb_boundary import AdminAPI, TokenService
from harness.sut.portal import PORTAL, PORTAL_SCOPES, PortalClient

if TYPE_CHECKING:
    from harness.suites.auth.owned import OwnDossiers

NO_NPDB = ("the auth suite mints tokens with the mock NPDB's token service; run with "
           "npdb.start: true or a running mock (npdb.state_dir)")
# The notification checks move a sampled adult's residence in the mock: keep them away from the
# people other suites (scenarios, load) sample with the run's seed.
SAMPLE_SEED_OFFSET = 7919


@dataclass
class AuthState:
    """What an AUTH check may leave for later checks: caches any check fills when it needs
    them and finds empty, so no check depends on another having run (harness.suites.auth.suite
    says who writes and reads each)."""

    baseline: Probe | None = None  # the genuine-token read; emptied after a 429
    own_dossier: tuple[str, Probe] | None = None  # the dossier portal submitted, created once
    subscription_id: str | None = None  # the SUT's NPDB subscription, once a delivery showed it
    # The error (with its evidence) when no subscription showed: waited for once per run
    no_subscription: CheckResult | None = None
    list_fill: OwnDossiers | None = None  # the portal's dossiers the list checks judge, made once
    # token -> $TOKEN line of each genuine token minted (a credential: never shown in a command)
    credentials: dict[str, ShellVariable] = field(default_factory=dict)


@dataclass(frozen=True)
class AuthContext:
    """The SUT, the token service (mock NPDB) and the clients every AUTH check uses; all of it
    read-only but ``state``."""

    run: RunContext
    portal: PortalClient  # the portal's TLS material, API URL and client certificates
    client: SafeClient  # portal.http(), closed when the suite ends
    minter: TokenService  # portal.minter(), read once
    admin: AdminAPI | None
    people: list[Person]
    state: AuthState = field(default_factory=AuthState)

    @property
    def base_url(self) -> str:
        return self.run.base_url

    @property
    def tls(self) -> TlsMaterial:
        return self.portal.tls

    @property
    def mtls_required(self) -> bool:
        return self.run.profile.mtls == "required"

    def url(self, path: str) -> str:
        return self.base_url + path

    # --- credentials --------------------------------------------------------------------
    def token(self, client_id: str = PORTAL, scopes: Sequence[str] = PORTAL_SCOPES,
              **claim_overrides: Any) -> str:
        """A genuine token of the national token service (claims may be overridden).

        Untampered (or only for another audience, which the token service issues too), it is a
        credential: a reproduction names it $TOKEN. With other overrides it is a forgery that a
        reproduction shows as sent."""
        token = str(self.minter.mint(client_id, list(scopes), **claim_overrides))
        audience = claim_overrides.get("aud", "connection-api")
        if set(claim_overrides) <= {"aud"} and isinstance(audience, str):
            self.state.credentials[token] = token_variable(client_id, scopes, audience)
        return token

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
        return Probe(description, exchange, tls or self.tls, token, self._credential(token))

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
        return Probe(description, exchange, self.tls, token, self._credential(token))

    def _credential(self, token: str | None) -> ShellVariable | None:
        return self.state.credentials.get(token) if token else None

    def dossier_body(self, index: int = 0) -> dict[str, Any]:
        """A valid residence-registration submission for a real person of the mock population."""
        if not self.people:
            raise RuntimeError("no applicants: the mock NPDB population sample was empty")
        person = self.people[index % len(self.people)]
        return dossier_body(RESIDENCE, person, random.Random(self.run.seed + index))

    def own_dossier(self) -> tuple[str | None, Probe]:
        """A dossier submitted by ``portal`` (created once, reused by the checks that need one)."""
        if self.state.own_dossier is not None:
            return self.state.own_dossier
        probe = self.post("valid dossier submitted with a portal token (dossier.submit)",
                          self.token(), self.dossier_body())
        body = probe.exchange.json()
        dossier_id = body.get("dossier_id") if isinstance(body, dict) else None
        if probe.exchange.status in (200, 201) and isinstance(dossier_id, str):
            self.state.own_dossier = (dossier_id, probe)
        return dossier_id if isinstance(dossier_id, str) else None, probe

    # --- preconditions ------------------------------------------------------------------
    def baseline_problem(self) -> CheckResult | None:
        """An ``error`` unless a genuine token is served: a SUT refusing everything proves nothing."""
        if self.state.baseline is None:
            self.state.baseline = self.read("genuine portal token (baseline)", self.token())
        ex = self.state.baseline.exchange
        if ex.error is None and ex.status is not None and 200 <= ex.status < 300:
            return None
        evidence = self.state.baseline.evidence()
        if ex.status == 429:  # a rate limit from an earlier step, not a verdict: ask again later
            self.state.baseline = None
        return CheckResult.errored(
            "a genuine portal token is not served on GET /connection/v1/dossiers "
            f"({said(ex)}), so refusals of forged credentials prove nothing", *evidence)


def _people(admin: AdminAPI | None, seed: int) -> list[Person]:
    """Real adults of the mock population, so dossier bodies pass the SUT's NPDB checks."""
    try:
        records = admin.sample("adult", 5, seed + SAMPLE_SEED_OFFSET) if admin is not None else []
    except Exception:  # noqa: BLE001 - the admin API is a convenience; synthetic people still work
        records = []
    people = [Person(r["personal_id"], r["full_name"], r["date_of_birth"], r.get("gender", "female"))
              for r in records if isinstance(r, dict) and "personal_id" in r]
    return people or synthetic_people(5, seed)


def make_context(run: RunContext) -> Iterator[AuthContext]:
    """The portal's client and the token service's minter; without the mock NPDB (the token
    service) the suite cannot start."""
    if run.npdb is None:
        raise SuiteUnavailable(NO_NPDB, Evidence.note(
            "npdb.start: true, or npdb.state_dir naming a running mock", title="run config"))
    portal = run.portal()
    admin = run.npdb.admin
    if admin is not None:
        # this run's namespace of a shared mock: its own people and deliveries
        admin = admin.for_run(run.run_id)
        if run.config.target.ca_bundle is not None:
            # the mock delivers genuine notifications to the SUT: trust the SUT's own CA;
            # an older mock cannot, and deliveries then fail visibly instead
            with contextlib.suppress(Exception):
                admin.trust_ca(Path(run.config.target.ca_bundle))
    client = portal.http()
    try:
        yield AuthContext(run=run, portal=portal, client=client, minter=portal.minter(),
                          admin=admin, people=_people(admin, run.seed))
    finally:
        client.close()
