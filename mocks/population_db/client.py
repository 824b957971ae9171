"""The mock NPDB's client side: what the harness's own process uses of the simulator.

The simulator has two sides in one folder. The client side (``CLIENT_MODULES``) starts the mock
and talks to it from the harness: the launcher, the admin API client, token fetching, the test
PKI, the token service's keys and in-process minter, and the synthetic population rebuilt from
its seed. The server side (every other module: the data and admin apps, their state, audit log,
faults, notifications, ...) runs only in the mock's own process (``python -m
popcert_npdb serve``, started by ``MockNPDB``, or ``popcert mock serve``).

The harness imports the client side only, through this module; its suites import neither side
and see the mock as ``harness.sut.npdb_boundary.NPDBHandle``. Both rules are import-linter
contracts in pyproject.toml (tests/unit/test_layers.py), and a module added to this folder must
be named in ``CLIENT_MODULES`` or in the server-side contract (tests/unit/test_layers.py).
"""

from __future__ import annotations

from popcert_npdb.admin_client import AdminClient, AuditEntry
from popcert_npdb.launcher import MockNPDB, MockPortError
from popcert_npdb.pki import IssuedCert, TestPKI
from popcert_npdb.population import Citizen, Population
from popcert_npdb.tokens import TokenMinter

# The modules the harness's process may load (this one included): a closed set, none of them
# imports a server-side module.
CLIENT_MODULES = ("client", "launcher", "startup", "admin_client", "client_auth", "pki", "tokens",
                  "population", "households", "kernels", "_kernels", "reference_data")

__all__ = ["AdminClient", "AuditEntry", "Citizen", "IssuedCert", "MockNPDB", "MockPortError",
           "Population", "TestPKI", "TokenMinter"]
