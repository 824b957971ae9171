"""The national firewall baseline (specs/firewall/baseline.yaml) as a validated model."""

from __future__ import annotations

from ipaddress import IPv4Network
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from harness.errors import ConfigError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NpdbEgress(_Strict):
    cidrs: list[IPv4Network] = Field(min_length=1)
    port: int = Field(443, ge=1, le=65535)


class EgressAllowance(_Strict):
    name: str
    cidrs: list[IPv4Network] = Field(min_length=1)
    protocols: list[Literal["tcp", "udp", "icmp"]] = Field(min_length=1)
    ports: list[int] = Field(default_factory=list)  # empty: any port (or ICMP type)


class Baseline(_Strict):
    version: str
    gateway_cidrs: list[IPv4Network] = Field(min_length=1)
    connection_port: int = Field(443, ge=1, le=65535)
    management_cidrs: list[IPv4Network] = Field(min_length=1)
    admin_ports: list[int] = Field(min_length=1)
    connection_servers: list[IPv4Network] = Field(min_length=1)
    npdb_egress: NpdbEgress
    egress_allowed: list[EgressAllowance] = Field(default_factory=list)
    loopback_interfaces: list[str] = Field(default_factory=lambda: ["lo"])


def load_baseline(path: Path | str) -> Baseline:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(path, "", f"cannot read firewall baseline: {exc}") from None
    try:
        return Baseline.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        raise ConfigError(path, field, err["msg"], "see specs/firewall/baseline.yaml") from None
