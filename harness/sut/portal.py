"""The citizen portal as the suites' client of the SUT: one place decides its TLS material, its
API URL and its tokens.

``run.portal()`` (``PortalClient.for_run(run)``) presents the run config's client certificate;
without one, where the profile requires mTLS, the portal's national-CA certificate the mock
NPDB's PKI issued. Tokens are minted in process with the national token service's key (never
fetched over the network), for the portal client and the scopes a caller names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from harness.net import SafeClient, TlsMaterial

if TYPE_CHECKING:
    from harness.config import RunConfig
    from harness.profiles import Profile
    from harness.sut.npdb_boundary import NPDBHandle, TokenService

API_BASE_PATH = "/connection/v1"  # specs/connection/v1/openapi.yaml servers[0]
PORTAL = "portal"
PORTAL_SCOPES = ("dossier.submit", "dossier.read")


class PortalRun(Protocol):
    """What the portal uses of a run; harness.run_context.RunContext is one (the SUT side does
    not import the run layer above it)."""

    config: RunConfig
    profile: Profile
    npdb: NPDBHandle | None

    @property
    def tls(self) -> TlsMaterial: ...

    def http(self, *, tls: TlsMaterial | None = None, timeout_s: float | None = None,
             max_bytes: int | None = None) -> SafeClient: ...


def api_url(base_url: str, base_path: str = API_BASE_PATH) -> str:
    """``base_url`` with the API's base path appended once (a target may already name it)."""
    base = base_url.rstrip("/")
    return base if base.endswith(base_path) else base + base_path


@dataclass(frozen=True)
class PortalClient:
    """What a suite needs to call the SUT as the portal: ``http()``, ``api_url``, ``token()``."""

    run: PortalRun
    tls: TlsMaterial
    api_url: str
    client_id: str = PORTAL

    @classmethod
    def for_run(cls, run: PortalRun, client_id: str = PORTAL) -> PortalClient:
        return cls(run, portal_tls(run, client_id), api_url(run.config.target.base_url),
                   client_id)

    def minter(self) -> TokenService:
        """The national token service's minter: the NPDB's, else the keys in the configured
        state folder (a run that reaches no mock handle still signs with the same key)."""
        npdb = self.run.npdb
        if npdb is not None:
            return npdb.minter()
        from popcert_npdb.client import TokenMinter

        return TokenMinter(Path(self.run.config.npdb.state_dir))

    def token(self, scopes: Sequence[str] = PORTAL_SCOPES, *, client_id: str | None = None,
              lifetime_s: int = 300, **claim_overrides: Any) -> str:
        """A genuine bearer token of the portal (or ``client_id``) with ``scopes``."""
        return str(self.minter().mint(client_id or self.client_id, list(scopes),
                                      lifetime_s=lifetime_s, **claim_overrides))

    def certificate(self, kind: str = "valid") -> TlsMaterial:
        """The run's CA bundle with one of the portal's NPDB-issued client certificates:
        ``valid``, ``expired`` or ``foreign`` (issued by a foreign CA)."""
        npdb = self.run.npdb
        if npdb is None:
            raise RuntimeError("the portal's client certificates come from the mock NPDB's PKI")
        issued = npdb.pki.client_cert_set(self.client_id)[kind]
        return TlsMaterial(self.tls.ca_bundle, issued.cert_path, issued.key_path,
                           client_id=self.client_id, cert_kind=kind)

    def http(self, *, timeout_s: float | None = None, max_bytes: int | None = None) -> SafeClient:
        """A scope-checked client for the SUT presenting the portal's TLS material."""
        return self.run.http(tls=self.tls, timeout_s=timeout_s, max_bytes=max_bytes)


def portal_tls(run: PortalRun, client_id: str = PORTAL) -> TlsMaterial:
    """The run's TLS material; under a profile requiring mTLS, when the config names no client
    certificate, the portal's national-CA certificate issued by the mock NPDB."""
    tls = run.tls
    if tls.client_cert is None and run.profile.mtls == "required" and run.npdb is not None:
        issued = run.npdb.pki.client_cert_set(client_id)["valid"]
        return TlsMaterial(tls.ca_bundle, issued.cert_path, issued.key_path, client_id=client_id)
    return tls
