"""What the suites need from the mock NPDB, whichever way the run reached it.

Two handles implement ``NPDBHandle``: ``MockNPDB`` of the simulator's client side (started for
the run) and ``harness.lab.RunningMock`` (a mock started elsewhere, read from its ``ready.json``).
Suites use only these members, typed by the protocols below; nothing else may be assumed of
``RunContext.npdb``, and no suite imports the simulator (pyproject ``[tool.importlinter]``).
(No suite reads the mock's URLs: the admin client and the minter carry them.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import date
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

Scopes = str | list[str] | tuple[str, ...]


class Citizen(Protocol):
    """One person of the synthetic register (a frozen record)."""

    @property
    def personal_id(self) -> str: ...

    @property
    def full_name(self) -> str: ...

    @property
    def date_of_birth(self) -> str: ...

    @property
    def gender(self) -> str: ...

    @property
    def spouse_id(self) -> str | None: ...

    @property
    def household_id(self) -> str: ...

    def to_dict(self) -> dict[str, Any]:
        """The record as the NPDB's data API returns it."""

    def age_on(self, day: date = ...) -> int:
        """Age in whole years on ``day`` (default: the register's reference date)."""


class CitizenRegister(Protocol):
    """The mock's synthetic population, rebuilt in process: the same people the mock serves."""

    def sample(self, kind: str, n: int, rng_seed: int = 0) -> Sequence[Citizen]:
        """``n`` citizens of a kind (adult, married_couple, child_with_parents, ...), seeded."""

    def by_personal_id(self, personal_id: str) -> Citizen | None: ...

    def household(self, household_id: str) -> Any:
        """The household with this id, None when the register has none."""

    def province_code(self, place: str) -> str | None:
        """Code of the province an address ends with, None when it names none."""


class TokenService(Protocol):
    """The national token service's minter: genuine or deliberately misused tokens, in process."""

    @property
    def kid(self) -> str: ...

    def claims(self, client_id: str, scopes: Scopes, audience: str = ...,
               lifetime_s: int = ...) -> dict[str, Any]: ...

    def mint(self, client_id: str, scopes: Scopes, audience: str = ..., lifetime_s: int = ...,
             **claim_overrides: Any) -> str:
        """A correctly signed token; ``claim_overrides`` replace claims (None removes one)."""

    def public_jwks(self) -> dict[str, Any]: ...


class IssuedCertificate(Protocol):
    @property
    def cert_path(self) -> Path: ...

    @property
    def key_path(self) -> Path: ...


class CertificateAuthority(Protocol):
    """The mock's test PKI (national CA, a foreign CA, certificates it issued)."""

    @property
    def ca_path(self) -> Path: ...

    def client_cert_set(self, client_id: str) -> Mapping[str, IssuedCertificate]:
        """The ``valid``, ``expired`` and ``foreign`` client certificates of a client."""


class AdminAPI(Protocol):
    """The mock's admin API; ``for_run(run_id)`` answers in that run's namespace."""

    @property
    def run_id(self) -> str | None: ...

    def for_run(self, run_id: str) -> AdminAPI: ...

    def trust_ca(self, ca_pem: str | Path) -> int: ...

    def sample(self, kind: str = ..., n: int = ..., seed: int = ...) -> list[dict[str, Any]]: ...

    def notify(self, type: str, personal_id: str, **extra: Any) -> dict[str, Any]: ...

    def sign(self, subscription_id: str, body: bytes, timestamp: int | None = None) -> str: ...

    def audit(self, since_id: int = ..., client_id: str | None = ...,
              request_id: str | None = ...) -> Sequence[Any]:
        """Audit entries (pydantic models) after ``since_id``."""

    def audit_mark(self) -> int: ...

    def inject(self, endpoint: str = ..., kind: str = ..., probability: float = ...,
               count: int | None = ..., latency_ms: int = ..., status: int = ...,
               retry_after_s: int = ..., personal_ids: list[str] | None = ...) -> int: ...

    def clear_faults(self) -> None: ...

    def lease(self, mode: str, wait_s: float = ...,
              ttl_s: float = ...) -> AbstractContextManager[None]: ...


@runtime_checkable
class NPDBHandle(Protocol):
    """The mock NPDB as the suites see it (read-only members, so both handles conform)."""

    @property
    def state_dir(self) -> Path:
        """The mock's state folder: its signing keys, PKI and audit log."""

    @property
    def seed(self) -> int:
        """Seed of the synthetic population."""

    @property
    def population(self) -> int:
        """Size of the synthetic population."""

    @property
    def pki(self) -> CertificateAuthority:
        """The test PKI: ``pki.client_cert_set("portal")`` and ``pki.ca_path``."""

    @property
    def admin(self) -> AdminAPI | None:
        """The admin API client (None only before a started mock answers)."""

    def minter(self) -> TokenService:
        """The national token service's minter (the mock's signing key, its issuer)."""

    def register(self) -> CitizenRegister:
        """The synthetic population rebuilt in process from the same seed and size (a fresh
        copy each call): suites draw and read people without a call to the mock."""
