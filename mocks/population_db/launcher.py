"""``MockNPDB``: run the mock in a subprocess, wait for ``ready.json``, always stop it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from harness.errors import PopcertError
from harness.processes import Child, spawn
from popcert_npdb.admin_client import AdminClient
from popcert_npdb.client_auth import fetch_token
from popcert_npdb.pki import TestPKI
from popcert_npdb.population import Population
from popcert_npdb.startup import BIND_ERROR
from popcert_npdb.tokens import TokenMinter

START_TIMEOUT_S = 60.0


class MockPortError(PopcertError):
    """An asked-for port could not be listened on (taken, privileged, the other port's)."""

    def __init__(self, role: str, port: int, reason: str) -> None:
        self.role, self.port, self.reason = role, port, reason
        super().__init__(f"the mock NPDB cannot listen on port {port} ({role} port): {reason}")


class MockNPDB:
    """Context manager: ``with MockNPDB(tmp_path) as npdb: npdb.data_url ...``; an
    ``harness.sut.npdb_boundary.NPDBHandle`` for the suites."""

    def __init__(self, state_dir: Path | str, population: int = 1_000_000, seed: int = 6,
                 mtls: str = "optional", rate_limit_per_s: float | None = None,
                 start_timeout_s: float = START_TIMEOUT_S,
                 trust_ca: list[Path] | None = None, data_port: int = 0,
                 admin_port: int = 0) -> None:
        self.state_dir = Path(state_dir)
        self.data_port, self.admin_port = data_port, admin_port  # 0: any free port
        self.population = population
        self.seed = seed
        self.mtls = mtls
        self.rate_limit_per_s = rate_limit_per_s
        self.start_timeout_s = start_timeout_s
        self.trust_ca = list(trust_ca or [])  # the SUT's own server CA, for notifications
        self.pki = TestPKI(self.state_dir)
        self._proc: Child | None = None
        self.data_url = self.admin_url = self.token_url = self.jwks_url = self.issuer = ""
        self.pid = 0
        self.admin: AdminClient | None = None

    @property
    def ready_file(self) -> Path:
        return self.state_dir / "ready.json"

    @property
    def ca_path(self) -> Path:
        return self.pki.ca_path

    def minter(self) -> TokenMinter:
        return TokenMinter(self.state_dir, issuer=self.issuer or "https://id.npdb.test")

    def register(self) -> Population:
        """The synthetic population, rebuilt in process from the same seed and size."""
        return Population(seed=self.seed, size=self.population)

    def token(self, client_id: str = "city-system", scope: str | None = None,
              audience: str | None = None) -> str:
        """A real access token from the running mock's token endpoint (private_key_jwt)."""
        return fetch_token(self.token_url, self.pki.ca_path,
                           self.pki.issued_dir / f"{client_id}.key", client_id, scope, audience)

    def start(self) -> Self:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.pki.ensure()  # so callers can use the PKI even before the server answers
        self.ready_file.unlink(missing_ok=True)
        cmd = [sys.executable, "-m", "popcert_npdb", "serve",
               "--state-dir", str(self.state_dir), "--population", str(self.population),
               "--seed", str(self.seed), "--mtls", self.mtls, "--ready-file", str(self.ready_file),
               "--data-port", str(self.data_port), "--admin-port", str(self.admin_port)]
        if self.rate_limit_per_s is not None:
            cmd += ["--rate-limit", str(self.rate_limit_per_s)]
        for ca in self.trust_ca:
            cmd += ["--trust-ca", str(ca)]
        # Its own process group, killed with popcert even by SIGKILL (harness.processes).
        log_path = self.state_dir / "mock.log"
        log_start = log_path.stat().st_size if log_path.exists() else 0
        with open(log_path, "ab") as log:
            self._proc = spawn(cmd, name="mock-npdb", stdout=log, stderr=subprocess.STDOUT,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                with open(log_path, "rb") as log:  # this start's lines only: the log is appended
                    log.seek(log_start)
                    tail = log.read().decode(errors="replace")[-2000:]
                _raise_port_error(tail)
                raise RuntimeError(f"mock NPDB exited with {self._proc.returncode}:\n{tail}")
            if self.ready_file.exists():
                ready: dict[str, Any] = json.loads(self.ready_file.read_text())
                if ready.get("pid") == self._proc.pid:
                    self._adopt(ready)
                    return self
            time.sleep(0.05)
        self.stop()
        raise TimeoutError(f"mock NPDB not ready within {self.start_timeout_s} s")

    def _adopt(self, ready: dict[str, Any]) -> None:
        self.data_url, self.admin_url = ready["data_url"], ready["admin_url"]
        self.token_url, self.jwks_url = ready["token_url"], ready["jwks_url"]
        self.issuer, self.pid = ready["issuer"], ready["pid"]
        self.admin = AdminClient(self.admin_url)

    def stop(self) -> None:
        if self.admin is not None:
            self.admin.close()
        proc, self._proc = self._proc, None
        if proc is not None:
            proc.stop(grace_s=10)  # SIGTERM lets the audit log flush; SIGKILL after the grace

    def __enter__(self) -> Self:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def _raise_port_error(log_tail: str) -> None:
    """MockPortError when the mock's log says it could not bind an asked-for port."""
    for line in log_tail.splitlines():
        if line.startswith(BIND_ERROR):
            address, _, rest = line.removeprefix(BIND_ERROR).strip().partition(" (")
            role, _, reason = rest.partition(" port): ")
            raise MockPortError(role, int(address.rpartition(":")[2]), reason.strip())
