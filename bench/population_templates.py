"""Benchmark: building a seed's 4,096 household templates (every mock NPDB start pays it), the
shipped builder against the plain one it replaced (rng.randint/choice/choices, a frozen dataclass
per member; kept below as the baseline), measured in the same run, in interleaved rounds. Both
must draw the same templates, member for member, for every seed tried: exit 1 otherwise.

    .venv/bin/python bench/population_templates.py [--rounds 5] [--seeds 6,7,42]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from dataclasses import astuple, dataclass, replace
from datetime import date
from functools import partial

from popcert_npdb.households import CHUNK, make_template
from popcert_npdb.population import N_TEMPLATES


@dataclass(frozen=True)
class PlainMember:
    household: int
    head_offset: int
    end_offset: int
    relation: str
    gender: int
    tyear: int
    father: int | None = None
    mother: int | None = None
    spouse: int | None = None
    marital_status: str = "single"
    deceased: bool = False


def plain_template(rng: random.Random) -> tuple[PlainMember, ...]:
    """The builder as first written (popcert_npdb/households.py before issue 22)."""
    members: list[PlainMember] = []
    household = 0
    while len(members) < CHUNK:
        free, base = CHUNK - len(members), len(members)
        kind = rng.choices(["single", "couple", "family", "single_parent", "three_gen"],
                           [14, 14, 50, 8, 14])[0]
        sizes = {"single": 1, "couple": 2, "family": 2 + rng.randint(1, 3),
                 "single_parent": 1 + rng.randint(1, 2), "three_gen": 3 + rng.randint(1, 2)}
        size = sizes[kind]
        if size > free:
            kind, size = "single", 1
        end = base + size
        new: list[PlainMember] = []
        member = partial(PlainMember, household=household, head_offset=base, end_offset=end)
        if kind == "single":
            gender, year = rng.randint(0, 1), rng.randint(1945, 2005)
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
                spouse_year = min(2003, max(1940, head_year + rng.randint(-3, 5)))
                new.append(member(relation="head", gender=head_gender, tyear=head_year,
                                  spouse=base + 1, marital_status="married"))
                new.append(member(relation="wife" if head_gender == 0 else "husband",
                                  gender=1 - head_gender, tyear=spouse_year, spouse=base,
                                  marital_status="married"))
                mother_year = max(spouse_year, head_year)
                father, mother = (base, base + 1) if head_gender == 0 else (base + 1, base)
            for _ in range(size - len(new) - (1 if kind == "three_gen" else 0)):
                gender = rng.randint(0, 1)
                year = rng.randint(mother_year + 20, min(mother_year + 42, date(2025, 12, 31).year))
                new.append(member(relation="son" if gender == 0 else "daughter", gender=gender,
                                  tyear=year, father=father, mother=mother))
            if kind == "three_gen":
                gender = 1 if rng.random() < 0.7 else 0
                parent_offset = base + len(new)
                new.append(member(relation="mother" if gender else "father", gender=gender,
                                  tyear=head_year - rng.randint(20, 35), marital_status="widowed"))
                new[0] = (replace(new[0], mother=parent_offset) if gender
                          else replace(new[0], father=parent_offset))
        members.extend(new)
        household += 1
    return tuple(members)


def _build(builder: object, seed: int) -> tuple[float, list[tuple[object, ...]]]:
    rng = random.Random(seed)
    started = time.process_time()
    templates = [builder(rng) for _ in range(N_TEMPLATES)]  # type: ignore[operator]
    spent = time.process_time() - started
    flat = [tuple(astuple(m) if isinstance(m, PlainMember) else tuple(m) for m in t)
            for t in templates]
    return spent, flat


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seeds", default="6,7,42")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    plain: list[float] = []
    shipped: list[float] = []
    for round_no in range(args.rounds):
        seed = seeds[round_no % len(seeds)]
        plain_s, plain_templates = _build(plain_template, seed)
        shipped_s, shipped_templates = _build(make_template, seed)
        if plain_templates != shipped_templates:
            print(f"seed {seed}: the shipped builder draws different templates", file=sys.stderr)
            return 1
        plain.append(plain_s)
        shipped.append(shipped_s)
    plain_ms, shipped_ms = statistics.median(plain) * 1000, statistics.median(shipped) * 1000
    print(f"{N_TEMPLATES} templates, seeds {seeds}: identical; plain builder {plain_ms:.0f} ms CPU, "
          f"shipped {shipped_ms:.0f} ms CPU")
    print(f"ratio shipped / plain: {shipped_ms / plain_ms:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
