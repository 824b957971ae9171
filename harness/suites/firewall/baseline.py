"""The national firewall baseline (specs/firewall/baseline.yaml) as a validated model."""

from __future__ import annotations

from ipaddress import IPv4Network
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from harness.yaml_documents import read_yaml, validation_error


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
    hint = "see specs/firewall/baseline.yaml"
    raw, node = read_yaml(path, what="firewall baseline", hint=hint)
    try:
        return Baseline.model_validate(raw)
    except ValidationError as exc:
        raise validation_error(path, node, exc, default_hint=hint) from None
