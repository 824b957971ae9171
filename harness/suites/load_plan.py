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
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

BIRTH, MARRIAGE, DEATH, RESIDENCE = "1.001193", "1.000894", "1.000656", "1.004194"
# Share of each procedure in the portal's submissions (birth and residence dominate at a ward).
PROCEDURE_MIX = {BIRTH: 4, RESIDENCE: 3, MARRIAGE: 2, DEATH: 1}
# Request mix per user: most portal calls are status polls of dossiers already submitted.
DEFAULT_WEIGHTS = {"submit": 3, "poll": 5, "list": 2}
# Offered rate = target × headroom, so the throughput check measures the SUT, not the pacing.
HEADROOM = 1.5

_GIVEN = ("An", "Bình", "Chi", "Dũng", "Giang", "Hà", "Hải", "Hòa", "Hùng", "Khánh", "Lan", "Linh",
          "Minh", "Nam", "Ngọc", "Phương", "Quân", "Thảo", "Trang", "Tuấn", "Vy", "Yến")
_MIDDLE = {"male": ("Văn", "Đức", "Minh", "Quốc"), "female": ("Thị", "Ngọc", "Thu", "Thanh")}
_PROVINCES = ("001", "079", "048", "031", "092", "026", "027", "036", "038", "040", "046", "056")


@dataclass(frozen=True)
class Person:
    """What a dossier says about a person: exactly the fields of the spec's ``Person``."""

    personal_id: str
    full_name: str
    date_of_birth: str
    gender: str = "female"
    spouse: Person | None = None

    def to_json(self) -> dict[str, str]:
        return {"personal_id": self.personal_id, "full_name": self.full_name,
                "date_of_birth": self.date_of_birth}


def synthetic_personal_id(rng: random.Random, born: date, gender: str) -> str:
    """A valid-format 12-digit ID (Circular 59/2021): province, gender+century, year, serial."""
    century = (born.year - 1900) // 100
    digit = 2 * century + (1 if gender == "female" else 0)
    return f"{rng.choice(_PROVINCES)}{digit}{born.year % 100:02d}{rng.randrange(10**6):06d}"


def synthetic_people(n: int, seed: int) -> list[Person]:
    """Stand-in people when no population is available (an external SUT with its own NPDB)."""
    rng = random.Random(seed)
    people = []
    for _ in range(n):
        gender = rng.choice(("male", "female"))
        born = date(1960, 1, 1) + timedelta(days=rng.randrange(40 * 365))
        name = f"Nguyễn {rng.choice(_MIDDLE[gender])} {rng.choice(_GIVEN)}"
        people.append(Person(synthetic_personal_id(rng, born, gender), name, born.isoformat(),
                             gender))
    return people


def population_people(seed: int, size: int, n: int, rng_seed: int) -> list[Person]:
    """Married adults of the mock's population (with their spouses), as dossier applicants."""
    from mocks.population_db.population import (
        Population,  # the harness may run without mocks
    )

    population = Population(seed, size)
    people = []
    for citizen in population.sample("married_couple", n, rng_seed):
        spouse = population.by_personal_id(citizen.spouse_id) if citizen.spouse_id else None
        spouse_person = (Person(spouse.personal_id, spouse.full_name, spouse.date_of_birth,
                                spouse.gender) if spouse else None)
        people.append(Person(citizen.personal_id, citizen.full_name, citizen.date_of_birth,
                             citizen.gender, spouse_person))
    return people


def _address(rng: random.Random) -> dict[str, str]:
    return {"line": f"Số {rng.randrange(1, 400)}, đường Trần Hưng Đạo", "ward": "Phường Hàng Bài",
            "district": "Quận Hoàn Kiếm", "province_code": "001"}


def dossier_body(procedure_code: str, applicant: Person, rng: random.Random) -> dict[str, Any]:
    """One ``DossierCreate`` body of specs/connection/v1 for the given procedure."""
    details: dict[str, Any]
    if procedure_code == BIRTH:
        mother = applicant if applicant.gender == "female" or applicant.spouse is None \
            else applicant.spouse
        gender = rng.choice(("male", "female"))
        child = {"full_name": f"{mother.full_name.split()[0]} {rng.choice(_MIDDLE[gender])} "
                              f"{rng.choice(_GIVEN)}",
                 "date_of_birth": (date(2026, 1, 1) + timedelta(days=rng.randrange(120))).isoformat(),
                 "gender": gender, "place_of_birth": "Bệnh viện Phụ sản Hà Nội"}
        details = {"child": child, "mother": mother.to_json()}
        father = applicant.spouse if mother is applicant else applicant
        if father is not None:
            details["father"] = father.to_json()
    elif procedure_code == MARRIAGE:
        partner = applicant.spouse or applicant
        details = {"spouse_a": applicant.to_json(), "spouse_b": partner.to_json()}
    elif procedure_code == DEATH:
        deceased = applicant.spouse or applicant
        details = {"deceased_personal_id": deceased.personal_id,
                   "date_of_death": (date(2026, 3, 1) + timedelta(days=rng.randrange(60))).isoformat()}
    elif procedure_code == RESIDENCE:
        details = {"address": _address(rng), "relation_to_head": "spouse"}
    else:
        raise ValueError(f"no load traffic model for procedure {procedure_code}")
    return {"procedure_code": procedure_code, "applicant": applicant.to_json(), "details": details}


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
    return int(math.ceil(duration_s)) + 180
