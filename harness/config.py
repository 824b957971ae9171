"""The run configuration (run.yaml): what to certify, how, and where traffic may go.

``load_config(path)`` returns a validated ``RunConfig`` or raises ``ConfigError`` naming the file,
the field (with its line) and the fix. Relative paths are resolved against the file's folder.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from harness import resources
from harness.errors import ConfigError
from harness.suite_names import SUITE_NAMES, SuiteName
from harness.yaml_documents import read_yaml, validation_error

ALL_SUITES: tuple[SuiteName, ...] = SUITE_NAMES
REPO_ROOT = Path(__file__).resolve().parent.parent


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SystemInfo(_Strict):
    name: str = Field(min_length=1, max_length=200)
    organisation: str = Field(min_length=1, max_length=200)
    level: Literal["ministry", "province", "district"]


class TargetConfig(_Strict):
    base_url: str
    ca_bundle: Path | None = None
    client_cert: Path | None = None
    client_key: Path | None = None
    # The published spec: mandatory at province/ministry (CONF-SPEC-DRIFT fails without one),
    # advisory at district; unset -> <base_url>/openapi.json, then <origin>/openapi.json.
    openapi_url: str | None = None
    timeout_s: float = Field(10.0, gt=0, le=120)

    @field_validator("base_url", "openapi_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return value
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _cert_pair(self) -> TargetConfig:
        if (self.client_cert is None) != (self.client_key is None):
            raise ValueError("client_cert and client_key go together: give both or neither")
        return self


class NpdbConfig(_Strict):
    start: bool = True
    state_dir: Path = Path(".popcert/npdb")
    population: int = Field(1_000_000, ge=1_000, le=200_000_000)
    seed: int = 6
    mtls: Literal["off", "optional", "required"] = "optional"
    data_port: int = Field(0, ge=0, le=65535)
    admin_port: int = Field(0, ge=0, le=65535)
    admin_url: str | None = None

    @field_validator("data_port", "admin_port")
    @classmethod
    def _ports(cls, port: int, info: ValidationInfo) -> int:
        # Honoured when popcert starts the mock (0: any free port); a running mock has its own.
        if port and not info.data.get("start", True):
            raise ValueError(f"port {port} applies only when popcert starts the mock "
                             "(npdb.start: true); a running mock's ports are in its ready.json")
        if port and info.field_name == "admin_port" and port == info.data.get("data_port"):
            raise ValueError(f"port {port} is the data_port too: the mock needs two ports")
        return port


class FirewallLiveConfig(_Strict):
    """FW-LIVE-EXPOSURE: a bounded TCP connect scan of the SUT's in-scope addresses."""

    enabled: bool = True
    ports: list[int] = Field(default_factory=list)  # probed besides admin, common and service ports
    full_sweep: bool | None = None  # 1-65535; None: as the profile says (firewall.live_full_sweep)
    # false: only the declared service port and `ports` (a host shared with other services, e.g.
    # the lab on loopback), not the baseline's admin and common service ports
    baseline_ports: bool = True
    stands_for: Literal["internet", "gateway", "management"] = "internet"  # when popcert is in no zone
    rate_per_s: float = Field(500, gt=0, le=5000)
    concurrency: int = Field(128, ge=1, le=1024)
    connect_timeout_s: float = Field(1.0, gt=0, le=10)
    deadline_s: float = Field(60, gt=0, le=600)

    @field_validator("ports")
    @classmethod
    def _ports(cls, value: list[int]) -> list[int]:
        if any(not 1 <= p <= 65535 for p in value):
            raise ValueError("ports are 1-65535")
        return value


class FirewallConfig(_Strict):
    ruleset: Path
    format: Literal["auto", "iptables", "ip6tables", "nft"] = "auto"
    baseline: Path = resources.data_path("specs", "firewall", "baseline.yaml")
    ruleset_ipv6: Path | None = None  # a separate ip6tables-save / nft file for the IPv6 policy
    # The SUT's addresses (IPv4 and IPv6); default: what target.base_url names.
    addresses: list[IPv4Address | IPv6Address] = Field(default_factory=list)
    live: FirewallLiveConfig = Field(default_factory=FirewallLiveConfig)


class SourceConfig(_Strict):
    path: Path
    baseline: Path | None = None


class LoadConfig(_Strict):
    workers: int = Field(0, ge=0, le=32)
    users: int | None = Field(None, ge=1, le=5000)
    duration_s: float | None = Field(None, gt=0, le=3600)
    target_rps: float | None = Field(None, gt=0)
    # Workers on other hosts (`popcert load worker --master HOST:PORT`) the master waits for.
    workers_external: int = Field(0, ge=0, le=256)
    master_bind_host: str = "127.0.0.1"  # e.g. 0.0.0.0 or this host's IP for external workers
    master_port: int = Field(0, ge=0, le=65535)  # 0: a free port (printed with the join code)


class AssessorConfig(_Strict):
    waivers: Path | None = None
    attestations: Path | None = None


class ScopeConfig(_Strict):
    allowed_hosts: list[str] = Field(default_factory=lambda: ["127.0.0.1", "localhost"])


class TimeLimits(_Strict):
    check_s: float = Field(120, gt=0, le=3600)
    suite_s: dict[str, float] = Field(default_factory=dict)
    default_suite_s: float = Field(900, gt=0, le=7200)


class RunConfig(_Strict):
    system: SystemInfo
    target: TargetConfig
    profile: str | None = None  # defaults to system.level
    suites: list[SuiteName] = Field(default_factory=lambda: list(ALL_SUITES))
    npdb: NpdbConfig = Field(default_factory=NpdbConfig)
    firewall: FirewallConfig | None = None
    source: SourceConfig | None = None
    load: LoadConfig = Field(default_factory=LoadConfig)
    assessor: AssessorConfig = Field(default_factory=AssessorConfig)
    scope: ScopeConfig = Field(default_factory=ScopeConfig)
    limits: TimeLimits = Field(default_factory=TimeLimits)
    output_dir: Path = resources.default_output_dir()
    seed: int = 0
    quick: bool = False
    # Scenario ids (`id:` in scenarios/*.yaml) to drive, for a vendor working on one procedure;
    # empty drives every one. A --quick run only: a full run drives them all.
    scenarios: list[str] = Field(default_factory=list, max_length=100)
    # Where the config came from, for error messages and relative paths; not part of the file.
    source_file: Path | None = Field(None, exclude=True)

    @field_validator("scenarios")
    @classmethod
    def _scenarios_only_when_quick(cls, value: list[str], info: ValidationInfo) -> list[str]:
        if value and not info.data.get("quick"):
            raise ValueError("choosing scenarios is for quick runs only: a full run drives "
                             "every scenario")
        return value

    @property
    def profile_name(self) -> str:
        return self.profile or self.system.level

    def ordered_suites(self) -> list[str]:
        return [s for s in ALL_SUITES if s in self.suites]


_HINTS = {
    "target.base_url": "use e.g. https://127.0.0.1:8443",
    "system.level": "one of ministry, province, district",
    "suites": f"choose from {', '.join(ALL_SUITES)}",
    "scenarios": "set quick: true (or pass --quick), or remove scenarios: to drive every one",
    "npdb.mtls": "one of off, optional, required",
    "firewall.format": "one of auto, iptables, ip6tables, nft",
    "npdb.data_port": "give a free port (0: any free port), only with npdb.start: true",
    "npdb.admin_port": "give a free port other than data_port (0: any free port), only with "
                       "npdb.start: true",
}


def load_config(path: Path | str, overrides: dict[str, Any] | None = None) -> RunConfig:
    path = Path(path)
    raw, node = read_yaml(path, what="config file", hint="create one with `popcert init`")
    if not isinstance(raw, dict):
        raise ConfigError(path, "", "the file must be a YAML mapping (system:, target:, ...)",
                          "start from `popcert init`")
    raw.update(overrides or {})
    try:
        config = RunConfig.model_validate(raw)
    except ValidationError as invalid:
        raise validation_error(path, node, invalid, hints=_HINTS,
                               default_hint="add it (see `popcert init`)") from None
    config = _resolve_paths(config, path.parent)
    _check_scope(config, path)
    return config.model_copy(update={"source_file": path})


def config_from_dict(raw: dict[str, Any], base_dir: Path, label: str = "<generated>") -> RunConfig:
    """Build a config in code (demo, tests) with the same validation as a file."""
    try:
        config = RunConfig.model_validate(raw)
    except ValidationError as invalid:
        raise validation_error(Path(label), None, invalid, hints=_HINTS) from None
    config = _resolve_paths(config, base_dir)
    _check_scope(config, Path(label))
    return config


def _resolve_paths(config: RunConfig, base: Path) -> RunConfig:
    def resolve(p: Path | None) -> Path | None:
        return None if p is None else (p if p.is_absolute() else (base / p).resolve())

    target = config.target.model_copy(update={
        "ca_bundle": resolve(config.target.ca_bundle),
        "client_cert": resolve(config.target.client_cert),
        "client_key": resolve(config.target.client_key)})
    update: dict[str, Any] = {"target": target, "output_dir": resolve(config.output_dir),
                              "npdb": config.npdb.model_copy(
                                  update={"state_dir": resolve(config.npdb.state_dir)})}
    if config.firewall:
        update["firewall"] = config.firewall.model_copy(update={
            "ruleset": resolve(config.firewall.ruleset),
            "ruleset_ipv6": resolve(config.firewall.ruleset_ipv6),
            "baseline": resolve(config.firewall.baseline)})
    if config.source:
        update["source"] = config.source.model_copy(update={
            "path": resolve(config.source.path), "baseline": resolve(config.source.baseline)})
    update["assessor"] = config.assessor.model_copy(update={
        "waivers": resolve(config.assessor.waivers),
        "attestations": resolve(config.assessor.attestations)})
    return config.model_copy(update=update)


def _check_scope(config: RunConfig, path: Path) -> None:
    from harness.net import ScopeGuard

    guard = ScopeGuard(config.scope.allowed_hosts)
    for field, url in (("target.base_url", config.target.base_url),
                       ("target.openapi_url", config.target.openapi_url)):
        host = urlsplit(url).hostname if url else None
        if host and not guard.allows(host):
            raise ConfigError(path, field, f"host {host!r} is not in scope.allowed_hosts",
                              f"add {host} to scope.allowed_hosts if you are authorised to test it")
    for field, file in (("target.ca_bundle", config.target.ca_bundle),
                        ("target.client_cert", config.target.client_cert),
                        ("target.client_key", config.target.client_key)):
        if file is not None and not file.exists():
            raise ConfigError(path, field, f"{file} does not exist", "give an existing PEM file")
