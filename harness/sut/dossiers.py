"""Who a dossier is about and what it says: people (``Person``, synthetic stand-ins) and
``DossierCreate`` bodies of specs/connection/v1, one schema per procedure.

Shared by the load suite (its dossier pool) and the auth suite (the dossiers its probes submit).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

# Procedure codes of specs/connection/v1.
BIRTH, MARRIAGE, DEATH, RESIDENCE = "1.001193", "1.000894", "1.000656", "1.004194"

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
