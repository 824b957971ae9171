"""What the engine hands to a suite's context factory: the run's context.

A suite's factory (declared in its ``SUITE``, harness/registry.py) is a generator: it sets up
(e.g. scans the TLS endpoint once), yields the object its checks receive, then tears down.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.config import RunConfig
from harness.live import NO_LIVE_STATUS, LiveStatus
from harness.net import SafeClient, ScopeGuard, TlsMaterial
from harness.profiles import Profile
from harness.sut.npdb_boundary import NPDBHandle

if TYPE_CHECKING:
    from harness.sut.portal import PortalClient


def run_id_for(run_dir: Path) -> str:
    """The run's one id: the report's ``run.id`` and its namespace in a shared mock NPDB (its
    people, fault rules, audit window): the run folder's name plus a digest of its full path,
    unique per run."""
    digest = hashlib.sha256(str(run_dir.resolve()).encode()).hexdigest()[:10]
    return f"{run_dir.parent.name}/{run_dir.name}-{digest}"


@dataclass
class RunContext:
    config: RunConfig
    profile: Profile
    run_dir: Path
    scope: ScopeGuard
    workdir: Path
    npdb: NPDBHandle | None = None  # launcher.MockNPDB, or lab.RunningMock (a running mock)
    quick: bool = False
    seed: int = 0
    extras: dict[str, Any] = field(default_factory=dict)
    # Where a long phase reports its progress (the engine's Progress; harness/live.py).
    live: LiveStatus = NO_LIVE_STATUS

    @classmethod
    def for_run(cls, config: RunConfig, profile: Profile, run_dir: Path, *,
                npdb: NPDBHandle | None, workdir: Path | None = None,
                quick: bool | None = None) -> RunContext:
        """The context of a run writing to ``run_dir``: the config's scope and seed, its quick
        flag unless ``quick`` says otherwise, scratch files in ``workdir`` (run_dir/work)."""
        return cls(config, profile, run_dir, ScopeGuard(config.scope.allowed_hosts),
                   workdir=workdir or run_dir / "work", npdb=npdb,
                   quick=config.quick if quick is None else quick, seed=config.seed)

    @property
    def run_id(self) -> str:
        """The run's id (``run_id_for``): the report's and the mock NPDB namespace's."""
        return run_id_for(self.run_dir)

    @property
    def tls(self) -> TlsMaterial:
        target = self.config.target
        return TlsMaterial(target.ca_bundle, target.client_cert, target.client_key)

    @property
    def base_url(self) -> str:
        return self.config.target.base_url

    def http(self, *, tls: TlsMaterial | None = None, timeout_s: float | None = None,
             max_bytes: int | None = None) -> SafeClient:
        """A scope-checked client for the SUT, with the run's CA bundle and client certificate."""
        kwargs: dict[str, Any] = {}
        if max_bytes is not None:
            kwargs["max_bytes"] = max_bytes
        return SafeClient(self.scope, tls or self.tls,
                          timeout_s or self.config.target.timeout_s, **kwargs)

    def portal(self) -> PortalClient:
        """The citizen portal as this run's SUT client: its TLS material, API URL and tokens."""
        from harness.sut.portal import PortalClient

        return PortalClient.for_run(self)

    def threshold(self, suite: str, name: str, default: Any = None) -> Any:
        return self.profile.threshold(suite, name, default)
