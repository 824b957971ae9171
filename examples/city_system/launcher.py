"""Runs the reference city system in a subprocess: ``with CitySystem(npdb, workdir, defects) as city:``.

The server binds port 0 and reports its real URL in a readiness file; the launcher waits for it and
always stops the process on exit. Server certificate: from the mock's test PKI (national CA).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self

from harness.processes import Child, spawn
from popcert_city.config import CityConfig, write_config
from popcert_city.defects import parse

READY_TIMEOUT_S = 30.0
SERVER_CERT_NAME = "city-system-server"


def _server_certificate(pki: Any, defects: frozenset[str]) -> tuple[Path, Path]:
    """Issue the server certificate; ``tls_profile`` may shape it for the ``tls.*`` cert switches."""
    try:
        from popcert_city import tls_profile
        issue = getattr(tls_profile, "server_certificate", None)
    except ImportError:
        issue = None
    if issue is not None:
        tls_defects = sorted(d for d in defects if d.startswith("tls."))
        # one file name per combination: the PKI reuses an existing file of the same name
        name = "-".join([SERVER_CERT_NAME, *(d.removeprefix("tls.").replace("_", "-") for d in tls_defects)])
        cert, key = issue(frozenset(defects), pki, name)
        return Path(cert), Path(key)
    issued = pki.issue(SERVER_CERT_NAME, kind="server")
    return Path(issued.cert_path), Path(issued.key_path)


def _data_base(data_url: str) -> str:
    base = data_url.rstrip("/")
    return base if base.endswith("/npdb/v1") else base + "/npdb/v1"


class CitySystem:
    """Context manager around the city system process. Attributes valid inside the ``with``."""

    def __init__(self, npdb: Any, workdir: Path, defects: Iterable[str] = frozenset(), *,
                 mtls: Literal["off", "optional", "required"] = "optional", rate_per_s: float = 50.0,
                 rate_burst: int = 100, npdb_timeout_s: float = 5.0,
                 subscribe_notifications: bool = True) -> None:
        self.npdb = npdb
        self.workdir = Path(workdir)
        self.defects = parse(list(defects))
        self.mtls = mtls
        self._settings: dict[str, Any] = {"rate_per_s": rate_per_s, "rate_burst": rate_burst,
                                          "npdb_timeout_s": npdb_timeout_s,
                                          "subscribe_notifications": subscribe_notifications}
        self.base_url = ""
        self.openapi_url = ""
        self.pid: int | None = None
        self.ca_path: Path = Path(npdb.pki.ca_path)
        self.config_path = self.workdir / "city-config.json"
        self.ready_path = self.workdir / "city-ready.json"
        self.log_path = self.workdir / "city-system.log"
        self._process: Child | None = None

    def _config(self) -> CityConfig:
        pki = self.npdb.pki
        pki.ensure()
        cert_path, key_path = _server_certificate(pki, self.defects)
        city = pki.client_cert_set("city-system")["valid"]
        other = pki.client_cert_set("other-system")["valid"]
        return CityConfig(
            issuer=self.npdb.issuer, jwks_url=self.npdb.jwks_url, token_url=self.npdb.token_url,
            npdb_data_url=_data_base(self.npdb.data_url), npdb_ca_path=Path(pki.ca_path),
            client_key_path=Path(city.key_path), client_cert_path=Path(city.cert_path),
            other_client_key_path=Path(other.key_path), other_client_cert_path=Path(other.cert_path),
            server_cert_path=cert_path, server_key_path=key_path, client_ca_path=Path(pki.ca_path),
            foreign_ca_path=Path(pki.foreign_ca_path), mtls=self.mtls,
            db_path=self.workdir / "city.sqlite3", ready_path=self.ready_path,
            defects=sorted(self.defects), **self._settings)

    def start(self) -> Self:
        self.workdir.mkdir(parents=True, exist_ok=True)
        write_config(self._config(), self.config_path)
        self.ready_path.unlink(missing_ok=True)
        env = {**os.environ, "CITY_DEFECTS": ",".join(sorted(self.defects)), "PYTHONUNBUFFERED": "1"}
        with open(self.log_path, "ab") as log:
            # Its own process group, killed with popcert even by SIGKILL (harness.processes).
            self._process = spawn(
                [sys.executable, "-m", "popcert_city.server", "--config", str(self.config_path)],
                name="city-system", stdout=log, stderr=subprocess.STDOUT, env=env,
                cwd=str(Path(__file__).resolve().parents[2]))
        self.pid = self._process.pid
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"city system exited with {self._process.returncode}; see {self.log_path}:\n"
                                   + self.log_path.read_text(errors="replace")[-3000:])
            if self.ready_path.exists():
                ready = json.loads(self.ready_path.read_text())
                self.base_url = ready["base_url"]
                self.openapi_url = f"{self.base_url}/openapi.json"
                return self
            time.sleep(0.05)
        self.stop()
        raise TimeoutError(f"city system not ready after {READY_TIMEOUT_S:.0f} s; see {self.log_path}")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            process.stop(grace_s=10)

    def restart(self) -> Self:
        """Stop and start again with the same store (durability tests)."""
        self.stop()
        return self.start()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
