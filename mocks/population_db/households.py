"""Household templates: the shape of 16 consecutive citizens (who lives with whom, roles,
genders, birth years before the chunk's year shift). Generated once per seed, a few thousand."""

from __future__ import annotations

import random
from bisect import bisect_right
from datetime import date
from itertools import accumulate
from typing import NamedTuple

REFERENCE_DATE = date(2025, 12, 31)  # "today" of the synthetic register: deterministic ages
CHUNK = 16


class Member(NamedTuple):
    """One template position: who sits at this offset of a 16-person chunk. (A named tuple:
    a population holds 65,536 of them, built at every start.)"""

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


# The weights of each household kind, accumulated once: rng.choices(kinds, weights) would
# accumulate them on every call. The draws below are exactly the ones rng.randint, rng.choice
# and rng.choices make (CPython's randrange(a, b + 1) is a + _randbelow(b - a + 1)), so the
# templates of a seed never change; tests/unit/mock/test_npdb_population.py pins them.
_KINDS = ("single", "couple", "family", "single_parent", "three_gen")
_KIND_CUMULATIVE = tuple(accumulate((14, 14, 50, 8, 14)))  # the weights, in _KINDS order
_KIND_TOTAL = _KIND_CUMULATIVE[-1] + 0.0
_HEAD_YEARS = {"couple": (1945, 2003), "family": (1955, 1998), "single_parent": (1960, 1995),
               "three_gen": (1965, 1995)}
_OLD_STATUS = ("widowed", "divorced")
_YOUNG_STATUS = ("single", "single", "divorced")
_PARENT_STATUS = ("divorced", "widowed")


def make_template(rng: random.Random) -> tuple[Member, ...]:
    below = rng._randbelow  # type: ignore[attr-defined]  # what randint and choice draw with
    uniform = rng.random
    members: list[Member] = []
    household = 0
    while len(members) < CHUNK:
        free = CHUNK - len(members)
        base = len(members)
        kind = _KINDS[bisect_right(_KIND_CUMULATIVE, uniform() * _KIND_TOTAL, 0, len(_KINDS) - 1)]
        # Every kind's size is drawn, whichever kind was chosen (as the templates always were).
        family, single_parent, three_gen = 3 + below(3), 2 + below(2), 4 + below(2)
        size = {"single": 1, "couple": 2, "family": family, "single_parent": single_parent,
                "three_gen": three_gen}[kind]
        if size > free:
            kind, size = "single", 1
        end = base + size
        new: list[Member] = []
        if kind == "single":
            gender = below(2)
            year = 1945 + below(61)
            old = year < 1965
            statuses = _OLD_STATUS if old else _YOUNG_STATUS
            status = statuses[below(len(statuses))]
            new.append(Member(household, base, end, "head", gender, year,
                              marital_status=status, deceased=old and uniform() < 0.2))
        else:
            head_gender = 0 if uniform() < 0.85 else 1
            lo, hi = _HEAD_YEARS[kind]
            head_year = lo + below(hi - lo + 1)
            if kind == "single_parent":
                new.append(Member(household, base, end, "head", head_gender, head_year,
                                  marital_status=_PARENT_STATUS[below(2)]))
                mother_year = head_year
                father = base if head_gender == 0 else None
                mother = base if head_gender == 1 else None
            else:
                # Both spouses adults (Law on Marriage and Family: men 20, women 18) even unshifted.
                spouse_year = min(2003, max(1940, head_year + (-3 + below(9))))
                new.append(Member(household, base, end, "head", head_gender, head_year,
                                  spouse=base + 1, marital_status="married"))
                new.append(Member(household, base, end, "wife" if head_gender == 0 else "husband",
                                  1 - head_gender, spouse_year, spouse=base,
                                  marital_status="married"))
                # Children are born once the younger parent is 20: both parents plausibly older.
                mother_year = max(spouse_year, head_year)
                father, mother = (base, base + 1) if head_gender == 0 else (base + 1, base)
            n_children = size - len(new) - (1 if kind == "three_gen" else 0)
            first_year = mother_year + 20
            last_year = min(mother_year + 42, REFERENCE_DATE.year)
            for _ in range(n_children):
                gender = below(2)
                year = first_year + below(last_year - first_year + 1)
                new.append(Member(household, base, end, child_relation(gender), gender, year,
                                  father=father, mother=mother))
            if kind == "three_gen":
                gender = 1 if uniform() < 0.7 else 0
                parent_offset = base + len(new)
                new.append(Member(household, base, end, "mother" if gender else "father",
                                  gender, head_year - (20 + below(16)),
                                  marital_status="widowed"))
                new[0] = (new[0]._replace(mother=parent_offset) if gender
                          else new[0]._replace(father=parent_offset))
        members.extend(new)
        household += 1
    return tuple(members)
