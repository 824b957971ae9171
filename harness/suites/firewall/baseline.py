"""The national firewall baseline (specs/firewall/baseline.yaml) as a validated model.

Every zone lists IPv4 and IPv6 networks together; `Baseline.zone(name, family)` gives one family's.
"""

from __future__ import annotations

from collections.abc import Sequence
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from harness.yaml_documents import read_yaml, validation_error

Network = IPv4Network | IPv6Network
ZONES = ("gateway_cidrs", "management_cidrs", "connection_servers")
ZONE_NAMES = {"gateway_cidrs": "national gateway", "management_cidrs": "management network",
              "connection_servers": "connection servers"}


def of_family(networks: Sequence[Network], family: str) -> list[Network]:
    version = 4 if family == "ipv4" else 6
    return [n for n in networks if n.version == version]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NpdbEgress(_Strict):
    cidrs: list[Network] = Field(min_length=1)
    port: int = Field(443, ge=1, le=65535)


class EgressAllowance(_Strict):
    name: str
    cidrs: list[Network] = Field(min_length=1)
    protocols: list[Literal["tcp", "udp", "icmp", "icmpv6"]] = Field(min_length=1)
    ports: list[int] = Field(default_factory=list)  # empty: any port (or ICMP type)


class Icmpv6Required(_Strict):
    """ICMPv6 types IPv6 cannot work without (RFC 4890 §4.4): each must be accepted from somewhere."""

    input: list[int] = Field(default_factory=lambda: [2, 135, 136])
    output: list[int] = Field(default_factory=lambda: [135, 136])


class Baseline(_Strict):
    version: str
    gateway_cidrs: list[Network] = Field(min_length=1)
    connection_port: int = Field(443, ge=1, le=65535)
    management_cidrs: list[Network] = Field(min_length=1)
    admin_ports: list[int] = Field(min_length=1)
    connection_servers: list[Network] = Field(min_length=1)
    npdb_egress: NpdbEgress
    egress_allowed: list[EgressAllowance] = Field(default_factory=list)
    loopback_interfaces: list[str] = Field(default_factory=lambda: ["lo"])
    icmpv6_required: Icmpv6Required = Field(default_factory=Icmpv6Required)
    # Ports the live scan probes besides the admin ports and the declared service port.
    common_service_ports: list[int] = Field(default_factory=lambda: [
        21, 23, 25, 53, 80, 110, 111, 135, 139, 143, 161, 389, 443, 445, 636, 873, 993, 995,
        2049, 2375, 2376, 5000, 5601, 5900, 5984, 6443, 8000, 8080, 8081, 8443, 8888, 9000,
        9090, 9092, 9300, 10250, 11211, 15672])

    def zone(self, name: str, family: str) -> list[Network]:
        return of_family(getattr(self, name), family)

    def families_missing(self, family: str) -> list[str]:
        """Zones with no network of this family: the baseline cannot judge that family there."""
        needed = [*ZONES, "npdb_egress"]
        return [n for n in needed
                if not of_family(self.npdb_egress.cidrs if n == "npdb_egress" else getattr(self, n), family)]


def load_baseline(path: Path | str) -> Baseline:
    path = Path(path)
    hint = "see specs/firewall/baseline.yaml"
    raw, node = read_yaml(path, what="firewall baseline", hint=hint)
    try:
        return Baseline.model_validate(raw)
    except ValidationError as exc:
        raise validation_error(path, node, exc, default_hint=hint) from None
