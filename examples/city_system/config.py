"""Runtime configuration of the reference city system, written by the launcher as JSON.

pydantic because it is an edge: the file may be written by hand when the system is run alone.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class CityConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # the national token service and the NPDB (the mock in tests)
    issuer: str
    jwks_url: str
    token_url: str
    npdb_data_url: str
    npdb_ca_path: Path
    audience: str = "connection-api"
    npdb_audience: str = "npdb"

    # the city system as an NPDB client
    client_id: str = "city-system"
    client_key_path: Path
    client_cert_path: Path | None = None
    # used only by the npdb.shared_credentials defect
    other_client_id: str = "other-system"
    other_client_key_path: Path | None = None
    other_client_cert_path: Path | None = None

    # serving
    host: str = "127.0.0.1"
    port: int = 0
    server_cert_path: Path
    server_key_path: Path
    client_ca_path: Path  # national CA: portal client certificates
    foreign_ca_path: Path | None = None  # trusted only under mtls.foreign_ca_accepted
    mtls: Literal["off", "optional", "required"] = "optional"
    public_base_url: str | None = None  # for the notification callback; derived from the port if unset

    # behaviour
    rate_per_s: float = Field(50.0, gt=0)
    rate_burst: int = Field(100, gt=0)
    npdb_timeout_s: float = Field(5.0, gt=0)
    npdb_max_attempts: int = Field(4, ge=1)
    worker_concurrency: int = Field(8, ge=1)
    subscribe_notifications: bool = True

    db_path: Path
    ready_path: Path
    defects: list[str] = Field(default_factory=list)


def load_config(path: Path) -> CityConfig:
    return CityConfig.model_validate(json.loads(path.read_text(encoding="utf-8")))


def write_config(config: CityConfig, path: Path) -> None:
    path.write_text(config.model_dump_json(indent=2), encoding="utf-8")
