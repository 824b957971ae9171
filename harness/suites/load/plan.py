"""The load plan handed to locust: tokens, TLS material, pacing and a pool of dossier bodies.

Built in the harness process so locust never holds the token service's private key or imports
the population generator. Dossier bodies follow specs/connection/v1 (one schema per procedure)
and use real people of the mock's synthetic population, so the SUT's NPDB checks succeed.
"""

from __future__ import annotations

import json
import math
import os
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.sut.dossiers import BIRTH, DEATH, MARRIAGE, RESIDENCE, Person, dossier_body
from harness.sut.npdb_boundary import CitizenRegister

# Share of each procedure in the portal's submissions (birth and residence dominate at a ward).
PROCEDURE_MIX = {BIRTH: 4, RESIDENCE: 3, MARRIAGE: 2, DEATH: 1}
# Request mix per user: most portal calls are status polls of dossiers already submitted.
DEFAULT_WEIGHTS = {"submit": 3, "poll": 5, "list": 2}
# Offered rate = target × headroom, so the throughput check measures the SUT, not the pacing.
HEADROOM = 1.5


def population_people(population: CitizenRegister, n: int, rng_seed: int) -> list[Person]:
    """Married adults of the mock's population (with their spouses), as dossier applicants."""
    people = []
    for citizen in population.sample("married_couple", n, rng_seed):
        spouse = population.by_personal_id(citizen.spouse_id) if citizen.spouse_id else None
        spouse_person = (Person(spouse.personal_id, spouse.full_name, spouse.date_of_birth,
                                spouse.gender) if spouse else None)
        people.append(Person(citizen.personal_id, citizen.full_name, citizen.date_of_birth,
                             citizen.gender, spouse_person))
    return people


def dossier_pool(people: Sequence[Person], n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` bodies, procedures drawn by ``PROCEDURE_MIX``, applicants from ``people``."""
    if not people:
        raise ValueError("no applicants to build dossiers from")
    rng = random.Random(seed)
    codes = list(PROCEDURE_MIX)
    weights = [PROCEDURE_MIX[c] for c in codes]
    return [dossier_body(rng.choices(codes, weights)[0], rng.choice(people), rng)
            for _ in range(n)]


def user_pacing(target_rps: float, users: int, headroom: float = HEADROOM) -> float:
    """Requests per second each user aims at (locust ``constant_throughput``)."""
    return target_rps * headroom / max(1, users)


def write_plan(path: Path, *, tokens: Sequence[str], dossiers: Sequence[dict[str, Any]],
               user_rps: float, max_requests_per_process: int,
               ca_bundle: Path | None = None, client_cert: Path | None = None,
               client_key: Path | None = None, verify_tls: bool = True,
               weights: dict[str, int] | None = None, base_path: str = "/connection/v1",
               request_timeout_s: float = 10.0, request_deadline_s: float = 30.0,
               max_in_flight: int = 16, allowed_hosts: Sequence[str] = (),
               join_code: str | None = None, workers_external: int = 0) -> Path:
    """Write the plan JSON (0600: it holds bearer tokens) that load/locustfile.py reads.

    ``max_in_flight`` bounds each user's concurrent requests (its connection pool);
    ``request_deadline_s`` is every request's total deadline, body included.
    """
    plan = {"base_path": base_path, "tokens": list(tokens), "dossiers": list(dossiers),
            "user_rps": user_rps, "max_requests": max_requests_per_process,
            "weights": weights or DEFAULT_WEIGHTS, "verify_tls": verify_tls,
            "ca_bundle": str(ca_bundle) if ca_bundle else None,
            "client_cert": str(client_cert) if client_cert else None,
            "client_key": str(client_key) if client_key else None,
            "request_timeout_s": request_timeout_s, "request_deadline_s": request_deadline_s,
            "max_in_flight": max_in_flight, "allowed_hosts": list(allowed_hosts),
            # Workers on other hosts get this plan from the master only with the join code.
            "join_code": join_code, "workers_external": workers_external}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(plan, out, ensure_ascii=False)
    return path


def token_lifetime_s(duration_s: float) -> int:
    """Tokens must outlive the run (plus start-up and stop) or the tail of the run is all 401."""
    return math.ceil(duration_s) + 180
