"""What the suites need from the mock NPDB, whichever way the run reached it.

Two handles implement ``NPDBHandle``: ``mocks.population_db.launcher.MockNPDB`` (started for the
run) and ``harness.lab.RunningMock`` (a mock started elsewhere, read from its ``ready.json``).
Suites use only these members; nothing else may be assumed of ``RunContext.npdb``. (No suite
reads the mock's URLs: the admin client and the minter carry them.)
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:  # the harness imports the mock only when a run uses it
    from mocks.population_db.admin_client import AdminClient
    from mocks.population_db.pki import TestPKI
    from mocks.population_db.tokens import TokenMinter


@runtime_checkable
class NPDBHandle(Protocol):
    """The mock NPDB as the suites see it (read-only members, so both handles conform)."""

    @property
    def state_dir(self) -> Path:
        """The mock's state folder: its signing keys, PKI and audit log."""

    @property
    def seed(self) -> int:
        """Seed of the synthetic population (suites rebuild the same people in process)."""

    @property
    def population(self) -> int:
        """Size of the synthetic population."""

    @property
    def pki(self) -> TestPKI:
        """The test PKI: ``pki.client_cert_set("portal")`` and ``pki.ca_path``."""

    @property
    def admin(self) -> AdminClient | None:
        """The admin API client (None only before a started mock answers)."""

    def minter(self) -> TokenMinter:
        """The national token service's minter (the mock's signing key, its issuer)."""
