"""Registered NPDB clients (``<state_dir>/clients.yaml``): who may get tokens, for what.

Generated on first run with the clients of docs/interfaces.md §3, editable afterwards.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, Field

from popcert_npdb.pki import TestPKI
from popcert_npdb.purposes import PURPOSE_CODES

# libyaml where PyYAML has it (the wheels do): the same data, parsed several times faster.
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

NPDB_SCOPES = ("citizen.read", "identity.verify", "household.read", "residence.read",
               "notification.subscribe")
PORTAL_SCOPES = ("dossier.submit", "dossier.read")


class ClientRecord(BaseModel):
    client_id: str
    description: str = ""
    auth_methods: list[str] = Field(default_factory=lambda: ["private_key_jwt"])
    scopes: list[str]
    purposes: list[str] = Field(default_factory=list)
    # PEM certificate whose public key verifies private_key_jwt assertions (the client's cert).
    cert_path: str
    rate_limit_per_s: float | None = None


class ClientRegistry(BaseModel):
    clients: list[ClientRecord]

    def get(self, client_id: str) -> ClientRecord | None:
        return next((c for c in self.clients if c.client_id == client_id), None)


def _defaults(pki: TestPKI) -> ClientRegistry:
    def cert(client_id: str) -> str:
        return str(pki.client_cert_set(client_id)["valid"].cert_path)

    all_purposes = sorted(PURPOSE_CODES)
    return ClientRegistry(clients=[
        ClientRecord(client_id="city-system", description="the SUT calling the NPDB",
                     auth_methods=["private_key_jwt", "mtls"], scopes=list(NPDB_SCOPES),
                     purposes=all_purposes, cert_path=cert("city-system")),
        ClientRecord(client_id="portal", description="national public-service portal",
                     scopes=list(PORTAL_SCOPES), cert_path=cert("portal")),
        ClientRecord(client_id="portal-b", description="second portal tenant",
                     scopes=list(PORTAL_SCOPES), cert_path=cert("portal-b")),
        ClientRecord(client_id="portal-readonly", description="read-only portal client",
                     scopes=["dossier.read"], cert_path=cert("portal-readonly")),
        # As capable as city-system, so borrowing its credentials works: only the identity differs.
        ClientRecord(client_id="other-system", description="another connected system",
                     auth_methods=["private_key_jwt", "mtls"], scopes=list(NPDB_SCOPES),
                     purposes=all_purposes, cert_path=cert("other-system")),
        ClientRecord(client_id="district-office", description="a system allowed one procedure",
                     auth_methods=["private_key_jwt", "mtls"], scopes=list(NPDB_SCOPES),
                     purposes=["1.001193"], cert_path=cert("district-office")),
    ])


def ensure_clients(state_dir: Path, pki: TestPKI) -> ClientRegistry:
    path = Path(state_dir) / "clients.yaml"
    if not path.exists():
        registry = _defaults(pki)
        path.write_text(yaml.safe_dump(registry.model_dump(), sort_keys=False, allow_unicode=True))
        return registry
    return ClientRegistry.model_validate(yaml.load(path.read_text(), Loader=SAFE_LOADER))
