"""Household templates: the shape of 16 consecutive citizens (who lives with whom, roles,
genders, birth years before the chunk's year shift). Generated once per seed, a few thousand."""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import date
from functools import partial

REFERENCE_DATE = date(2025, 12, 31)  # "today" of the synthetic register: deterministic ages
CHUNK = 16


@dataclass(frozen=True)
class Member:
    """One template position: who sits at this offset of a 16-person chunk."""

    household: int  # household number inside the chunk
    head_offset: int
    end_offset: int  # one past the household's last offset
    relation: str  # head, wife, husband, son, daughter, father, mother
    gender: int  # 0 male, 1 female
    tyear: int  # birth year before the chunk's shift
    father: int | None = None  # offsets inside the chunk
    mother: int | None = None
    spouse: int | None = None
    marital_status: str = "single"
    deceased: bool = False


def child_relation(gender: int) -> str:
    return "son" if gender == 0 else "daughter"


def make_template(rng: random.Random) -> tuple[Member, ...]:
    members: list[Member] = []
    household = 0
    while len(members) < CHUNK:
        free = CHUNK - len(members)
        base = len(members)
        kind = rng.choices(["single", "couple", "family", "single_parent", "three_gen"],
                           [14, 14, 50, 8, 14])[0]
        sizes = {"single": 1, "couple": 2, "family": 2 + rng.randint(1, 3),
                 "single_parent": 1 + rng.randint(1, 2), "three_gen": 3 + rng.randint(1, 2)}
        size = sizes[kind]
        if size > free:
            kind, size = "single", 1
        end = base + size
        new: list[Member] = []
        member = partial(Member, household=household, head_offset=base, end_offset=end)
        if kind == "single":
            gender = rng.randint(0, 1)
            year = rng.randint(1945, 2005)
            old = year < 1965
            status = rng.choice(["widowed", "divorced"] if old else ["single", "single", "divorced"])
            new.append(member(relation="head", gender=gender, tyear=year,
                              marital_status=status, deceased=old and rng.random() < 0.2))
        else:
            head_gender = 0 if rng.random() < 0.85 else 1
            lo, hi = {"couple": (1945, 2003), "family": (1955, 1998),
                      "single_parent": (1960, 1995), "three_gen": (1965, 1995)}[kind]
            head_year = rng.randint(lo, hi)
            if kind == "single_parent":
                new.append(member(relation="head", gender=head_gender, tyear=head_year,
                                  marital_status=rng.choice(["divorced", "widowed"])))
                mother_year = head_year
                father = base if head_gender == 0 else None
                mother = base if head_gender == 1 else None
            else:
                # Both spouses adults (Law on Marriage and Family: men 20, women 18) even unshifted.
                spouse_year = min(2003, max(1940, head_year + rng.randint(-3, 5)))
                new.append(member(relation="head", gender=head_gender, tyear=head_year,
                                  spouse=base + 1, marital_status="married"))
                new.append(member(relation="wife" if head_gender == 0 else "husband",
                                  gender=1 - head_gender, tyear=spouse_year, spouse=base,
                                  marital_status="married"))
                # Children are born once the younger parent is 20: both parents plausibly older.
                mother_year = max(spouse_year, head_year)
                father, mother = (base, base + 1) if head_gender == 0 else (base + 1, base)
            n_children = size - len(new) - (1 if kind == "three_gen" else 0)
            for _ in range(n_children):
                gender = rng.randint(0, 1)
                year = rng.randint(mother_year + 20, min(mother_year + 42, REFERENCE_DATE.year))
                new.append(member(relation=child_relation(gender), gender=gender,
                                  tyear=year, father=father, mother=mother))
            if kind == "three_gen":
                gender = 1 if rng.random() < 0.7 else 0
                parent_offset = base + len(new)
                new.append(member(relation="mother" if gender else "father",
                                  gender=gender, tyear=head_year - rng.randint(20, 35),
                                  marital_status="widowed"))
                new[0] = (replace(new[0], mother=parent_offset) if gender
                          else replace(new[0], father=parent_offset))
        members.extend(new)
        household += 1
    return tuple(members)
