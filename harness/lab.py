"""The lab: the mock NPDB plus the reference city system, started together on 127.0.0.1.

Used by ``popcert demo`` and by the detection-matrix tests: the same code path certifies the
compliant reference system and each of its defect switches.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from harness.checklist import city_system_dir
from harness.config import REPO_ROOT, RunConfig, config_from_dict

if TYPE_CHECKING:
    from popcert_npdb.client import Population, TokenMinter


def city_options_for(level: str) -> dict[str, Any]:
    """How the reference system is deployed for a profile: mTLS required where the profile says."""
    from harness.profiles import load_profile

    return {"mtls": "required"} if load_profile(level).mtls == "required" else {}


class Lab:
    def __init__(self, workdir: Path, defects: frozenset[str] = frozenset(), *,
                 population: int = 1_000_000, seed: int = 6, mtls: str = "optional",
                 city_options: dict[str, Any] | None = None, servers: bool = True) -> None:
        self.workdir = Path(workdir)
        self.defects = frozenset(defects)
        self.population = population
        self.seed = seed
        self.mtls = mtls
        self.city_options = city_options or {}
        # The static suites (firewall, sast) read files only: no servers needed for them.
        self.servers = servers
        self.npdb: Any = None
        self.city: Any = None
        self._npdb_cm: Any = None
        self.host: Any = None  # the reference host's live exposure (FW-LIVE-EXPOSURE scans it)

    def __enter__(self) -> Self:
        from popcert_city.firewall_policy import DeployedHost
        from popcert_city.launcher import CitySystem
        from popcert_npdb.client import MockNPDB

        self.workdir.mkdir(parents=True, exist_ok=True)
        self.host = DeployedHost(self.defects).__enter__()
        if not self.servers:
            return self
        # The city system keeps dossiers between runs otherwise; each lab starts clean.
        shutil.rmtree(self.workdir / "city", ignore_errors=True)
        self._npdb_cm = MockNPDB(self.workdir / "npdb", population=self.population,
                                 seed=self.seed, mtls=self.mtls)
        self.npdb = self._npdb_cm.__enter__()
        try:
            self.city = CitySystem(self.npdb, self.workdir / "city", self.defects,
                                   **self.city_options).__enter__()
        except BaseException:
            self._npdb_cm.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            if self.city is not None:
                self.city.__exit__(exc_type, exc, tb)
        finally:
            if self.host is not None:
                self.host.__exit__(exc_type, exc, tb)
            if self._npdb_cm is not None:
                self._npdb_cm.__exit__(exc_type, exc, tb)

    def run_config(self, *, suites: list[str] | None = None, quick: bool = True,
                   level: str = "district", output_dir: Path | None = None,
                   seed: int = 0, scenarios: tuple[str, ...] = ()) -> RunConfig:
        """The run config an assessor would write for the reference system in this lab."""
        from popcert_city.firewall_policy import DeployedHost
        from popcert_city.source_tree import source

        artifacts = self.workdir / "artifacts"
        shutil.rmtree(artifacts, ignore_errors=True)
        artifacts.mkdir(parents=True)
        raw: dict[str, Any] = {
            "system": {"name": "Reference city system", "organisation": "popcert (example)",
                       "level": level},
            "target": {"base_url": "https://127.0.0.1:9"},  # no server: static suites only
            # firewall (ruleset, the deployed host's addresses and live scan) and scope
            **(self.host or DeployedHost()).run_config(self.defects, artifacts / "fw"),
            "source": {"path": str(source(self.defects, artifacts / "src"))},
            "assessor": {"attestations": str(city_system_dir() / "attestations.yaml")},
            "quick": quick, "seed": seed,
        }
        if self.npdb is not None:
            portal = self.npdb.pki.client_cert_set("portal")["valid"]
            raw["target"] = {"base_url": self.city.base_url,
                             "ca_bundle": str(self.npdb.pki.ca_path),
                             "client_cert": str(portal.cert_path),
                             "client_key": str(portal.key_path),
                             "openapi_url": self.city.openapi_url}
            raw["npdb"] = {"start": False, "state_dir": str(self.npdb.state_dir),
                           "admin_url": self.npdb.admin_url, "population": self.population,
                           "seed": self.seed, "mtls": self.mtls}
        if suites:
            raw["suites"] = suites
        if scenarios:
            raw["scenarios"] = list(scenarios)
        if output_dir is not None:
            raw["output_dir"] = str(output_dir)
        return config_from_dict(raw, REPO_ROOT, label="<lab>")


class RunningMock:
    """A handle on a mock NPDB started elsewhere (`popcert mock serve`), read from its ready file;
    an ``harness.sut.npdb_boundary.NPDBHandle``. Its population's size and seed are not in the ready
    file: the run config states them (``npdb.population``, ``npdb.seed``)."""

    def __init__(self, state_dir: Path, *, population: int = 1_000_000, seed: int = 6) -> None:
        from popcert_npdb.client import AdminClient, TestPKI

        ready = json.loads((state_dir / "ready.json").read_text(encoding="utf-8"))
        self.state_dir = state_dir
        self.population = population
        self.seed = seed
        self.data_url, self.admin_url = ready["data_url"], ready["admin_url"]
        self.token_url, self.jwks_url = ready["token_url"], ready["jwks_url"]
        self.issuer = ready["issuer"]
        self.pki = TestPKI(state_dir)
        self.ca_path = self.pki.ca_path
        self.admin = AdminClient(self.admin_url)

    def minter(self) -> TokenMinter:
        from popcert_npdb.client import TokenMinter

        return TokenMinter(self.state_dir, issuer=self.issuer)

    def register(self) -> Population:
        from popcert_npdb.client import Population

        return Population(seed=self.seed, size=self.population)
