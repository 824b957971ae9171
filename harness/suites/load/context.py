"""The load suite's context: the thresholds a run is held to, and its one bounded locust run.

``make_context`` runs locust once and yields what every LOAD-* check reads. ``run_load`` is also
the capacity search's step (``capacity.py``), which certifies nothing.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from harness.checks import Evidence, SuiteUnavailable
from harness.run_context import RunContext
from harness.suites.load.plan import (
    dossier_pool,
    population_people,
    token_lifetime_s,
    user_pacing,
    write_plan,
)
from harness.suites.load.runner import (
    LoadOutcome,
    LocustJob,
    per_process_request_bound,
    run_locust,
)
from harness.suites.load.thresholds import (
    LoadThresholds,
    lowered_by_run_config,
    measured,
    resolve_thresholds,
)
from harness.sut.dossiers import synthetic_people

PORTAL_CLIENTS = ("portal", "portal-b")


@dataclass(frozen=True)
class LoadContext:
    outcome: LoadOutcome
    thresholds: LoadThresholds


def thresholds_for(run: RunContext) -> LoadThresholds:
    """The profile's ``thresholds.load`` with run.yaml's ``load:`` values as given (the capacity
    search and benchmarks, which certify nothing; a certification uses certified_thresholds)."""
    overrides = run.config.load
    return resolve_thresholds(run.profile.thresholds.get("load"), quick=run.quick,
                              users=overrides.users, duration_s=overrides.duration_s,
                              target_rps=overrides.target_rps)


def certified_thresholds(run: RunContext) -> LoadThresholds:
    """``thresholds_for``, but run.yaml may make the load test harder, never easier: a ``load:``
    value below the profile's raises SuiteUnavailable (every LOAD check `error`, NOT CERTIFIED)."""
    overrides = run.config.load
    lowered = lowered_by_run_config(run.profile.thresholds.get("load"), run.profile.name,
                                    quick=run.quick, users=overrides.users,
                                    duration_s=overrides.duration_s,
                                    target_rps=overrides.target_rps)
    if lowered:
        raise SuiteUnavailable("; ".join(lowered), Evidence.note(
            "A certification holds the system to the profile's thresholds.load: run.yaml's "
            "load: section may raise users, duration_s and target_rps, never lower them. "
            "`popcert load capacity` accepts any value (it certifies nothing).",
            title="run.yaml may make the load test harder, never easier"))
    return thresholds_for(run)


def portal_tokens(run: RunContext, lifetime_s: int) -> list[str]:
    """Bearer tokens of the portal tenants, minted by the harness (never by locust)."""
    given = run.extras.get("load_tokens")
    if given:
        return list(given)
    if run.npdb is None:  # the suite cannot start: every LOAD check `error` with this reason
        raise SuiteUnavailable("the load suite needs portal tokens: run with the mock NPDB's "
                               "token service, or pass extras['load_tokens']", Evidence.note(
                                   "npdb.start: true, or npdb.state_dir naming a running mock",
                                   title="run config"))
    portal = run.portal()
    return [portal.token(client_id=client, lifetime_s=lifetime_s)
            for client in PORTAL_CLIENTS]


def run_load(run: RunContext, limits: LoadThresholds, *, out_dir: Path,
             workers: int = 0, user_rps: float | None = None, users: int | None = None,
             duration_s: float | None = None, workers_external: int | None = None,
             spawn_rate: float | None = None) -> LoadOutcome:
    """One bounded locust run against the run's target (also used by capacity search)."""
    from harness import processes

    host = run.scope.check_url(run.base_url)
    load_config = run.config.load
    external = load_config.workers_external if workers_external is None else workers_external
    duration = duration_s or limits.duration_s
    users = users or limits.users
    if run.npdb is not None:
        people = population_people(run.npdb.register(), 100, run.seed)
    else:
        people = synthetic_people(100, run.seed)
    # The portal presents its national-CA certificate where the profile requires mTLS.
    tls = run.portal().tls
    plan_path = processes.remove_on_exit(out_dir / "plan.json")  # bearer tokens: gone on any exit
    join_code = secrets.token_urlsafe(18) if external else None
    write_plan(plan_path, tokens=portal_tokens(run, token_lifetime_s(duration)),
               dossiers=dossier_pool(people, 300, run.seed),
               user_rps=user_rps or user_pacing(limits.target_rps, users),
               max_requests_per_process=per_process_request_bound(limits.max_requests, workers),
               ca_bundle=tls.ca_bundle, client_cert=tls.client_cert, client_key=tls.client_key,
               verify_tls=host.startswith("https"), allowed_hosts=[urlsplit(host).hostname or ""],
               join_code=join_code, workers_external=external)
    job = LocustJob(host=host, plan_path=plan_path, out_dir=out_dir, users=users,
                    spawn_rate=spawn_rate or limits.spawn_rate, duration_s=duration,
                    max_requests=limits.max_requests, workers=workers,
                    workers_external=external, master_bind_host=load_config.master_bind_host,
                    master_port=load_config.master_port, join_code=join_code)
    try:
        return run_locust(job, on_progress=lambda text: run.live.phase_update("load", text))
    finally:
        plan_path.unlink(missing_ok=True)  # it holds bearer tokens


def make_context(run: RunContext) -> Iterator[LoadContext]:
    limits = certified_thresholds(run)
    outcome = run_load(run, limits, out_dir=run.run_dir / "load", workers=run.config.load.workers)
    measured(outcome)  # a run without statistics stops the suite: every LOAD check `error`
    yield LoadContext(outcome, limits)
