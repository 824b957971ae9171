"""Synthetic national population, derived record-by-record from its index (scales to 10^8).

Layout: citizens are grouped in chunks of 16 consecutive indices; a chunk's households come from one
of a few thousand precomputed household *templates* (partition, roles, genders, birth years).
chunk c = (q * YEAR_SHIFTS + r) * n_slots + slot: ``slot`` picks the province of birth registration
(weighted by population), ``r`` shifts every birth year of the chunk back by r years, ``q`` picks
the template. The 6 serial digits of a personal ID encode (q, slot-within-province, offset), scrambled
by a keyed Feistel permutation, so ``personal_id -> index`` is O(1) without any table of citizens.
Changes (deaths, moves, registered births) live in a small in-memory overlay.
"""

from __future__ import annotations

import random
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

from popcert_npdb import reference_data as ref
from popcert_npdb.households import (
    CHUNK,
    REFERENCE_DATE,
    Member,
    child_relation,
    make_template,
)
from popcert_npdb.kernels import mix as _mix
from popcert_npdb.kernels import name_and_birth, scramble, unscramble

YEAR_SHIFTS = 20
N_TEMPLATES = 4096
SLOT_SCALE = 512  # total province slots ~ this; more slots = finer province weights
BIRTH_SERIAL_BASE = 900_000  # unscrambled serials >= this are overlay births, never base records

GENDERS = ("male", "female")
RELATIONS_HEAD = "head"


@dataclass(frozen=True)
class Citizen:
    index: int
    personal_id: str
    full_name: str
    family_name: str
    date_of_birth: str
    gender: str
    place_of_birth_registration: str
    hometown: str
    ethnicity: str
    religion: str
    nationality: str
    blood_type: str
    old_id_number: str | None
    permanent_residence: str
    temporary_residence: str | None
    current_address: str
    household_id: str
    relation_to_head: str
    father_id: str | None
    mother_id: str | None
    spouse_id: str | None
    marital_status: str
    date_of_death: str | None

    def to_dict(self) -> dict[str, Any]:
        record = asdict(self)
        record.pop("index")
        record.pop("family_name")
        return record

    def age_on(self, day: date = REFERENCE_DATE) -> int:
        born = date.fromisoformat(self.date_of_birth)
        return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


@dataclass(frozen=True)
class Household:
    household_id: str
    address: str
    members: tuple[tuple[str, str], ...]  # (personal_id, relation_to_head)

    def to_dict(self) -> dict[str, Any]:
        return {"household_id": self.household_id, "address": self.address,
                "members": [{"personal_id": p, "relation_to_head": r} for p, r in self.members]}


@dataclass
class Overlay:
    """Changes since generation: the only state that grows with activity, never with size."""

    deaths: dict[str, str] = field(default_factory=dict)
    moves: dict[str, str] = field(default_factory=dict)
    births: dict[str, Citizen] = field(default_factory=dict)
    household_births: dict[str, list[str]] = field(default_factory=dict)


@lru_cache(maxsize=4)
def _templates(seed: int) -> tuple[tuple[tuple[Member, ...], ...],
                                   tuple[tuple[tuple[int, int, int, int | None], ...], ...]]:
    """A seed's household templates (immutable, so shared by every Population of the process:
    the harness rebuilds the register for each run), and what identity verification reads of
    each member as flat tuples: (tyear, gender, household, the offset salting the family name
    if it is the father's)."""
    rng = random.Random(seed)
    templates = tuple(make_template(rng) for _ in range(N_TEMPLATES))
    identities = tuple(tuple(
        (m.tyear, m.gender, m.household,
         m.father if m.relation in ("son", "daughter") and m.father is not None else None)
        for m in template) for template in templates)
    return templates, identities


class Population:
    """The synthetic register. ``citizen(i)`` and ``by_personal_id(pid)`` are O(1)."""

    def __init__(self, seed: int = 6, size: int = 1_000_000) -> None:
        self.seed = seed
        self.size = size
        self._key = _mix(seed * 0x100000001B3 + 0xC0FFEE)
        self._templates, self._id_templates = _templates(seed)
        total = sum(p for _, _, p in ref.PROVINCES)
        mult = {code: max(1, round(p * SLOT_SCALE / total)) for code, _, p in ref.PROVINCES}
        slots = [(code, j) for code, _, _ in ref.PROVINCES for j in range(mult[code])]
        # Shuffle so that even a tiny population spreads over many provinces.
        random.Random(seed ^ 0x5EED).shuffle(slots)
        self._slots = slots
        self._slot_of = {s: i for i, s in enumerate(slots)}
        self._n_slots = len(slots)
        self._province_slots = {code: [self._slot_of[(code, j)] for j in range(mult[code])]
                                for code in mult}
        self._prefixes: dict[str, tuple[int, int, int, int, list[int]]] = {}
        self._max_mult = max(mult.values())
        self._mult = mult
        n_chunks = -(-size // CHUNK)
        q_max = -(-n_chunks // (len(slots) * YEAR_SHIFTS))
        if (q_max + 1) * self._max_mult * CHUNK > BIRTH_SERIAL_BASE:
            raise ValueError(f"population {size} exceeds the personal-ID serial capacity")
        self.overlay = Overlay()
        self._names = {k: ref.cumulative(v) for k, v in {
            "family": ref.FAMILY_NAMES, "ethnicity": ref.ETHNICITIES,
            "religion": ref.RELIGIONS, "blood": ref.BLOOD_TYPES}.items()}
        self._births_registered = 0
        self._name_tables = (*self._names["family"], ref.MIDDLE_MALE, ref.MIDDLE_FEMALE,
                             ref.GIVEN_MALE, ref.GIVEN_FEMALE)

    # --- index <-> personal id -------------------------------------------------------------
    def _split(self, index: int) -> tuple[int, int, int, int, int]:
        chunk, offset = divmod(index, CHUNK)
        rest, slot = divmod(chunk, len(self._slots))
        q, r = divmod(rest, YEAR_SHIFTS)
        return chunk, offset, slot, r, q

    def _template(self, slot: int, q: int) -> tuple[Member, ...]:
        return self._templates[_mix(self._key ^ (slot * 1_000_003 + q)) % N_TEMPLATES]

    def _feistel_key(self, province: str, gc: int, yy: int) -> int:
        return _mix(self._key + int(province) * 1000 + gc * 100 + yy)

    @staticmethod
    def _gc_digit(gender: int, year: int) -> int:
        return (year // 100 - 19) * 2 + gender

    def _make_pid(self, province: str, gender: int, year: int, serial: int) -> str:
        gc = self._gc_digit(gender, year)
        yy = year % 100
        digits = scramble(serial, self._feistel_key(province, gc, yy))
        return f"{province}{gc}{yy:02d}{digits:06d}"

    def _pid_of(self, index: int) -> str:
        _, offset, slot, r, q = self._split(index)
        member = self._template(slot, q)[offset]
        province, j = self._slots[slot]
        serial = (q * self._max_mult + j) * CHUNK + offset
        return self._make_pid(province, member.gender, member.tyear - r, serial)

    def _prefix(self, prefix: str) -> tuple[int, int, int, int, list[int]] | None:
        """Per 6-digit prefix (province, century/gender digit, yy): the Feistel key, gender, birth
        year, the province's slot multiplicity and its slots. A pure function of at most
        63 x 4 x 100 prefixes, memoised: ``index_of`` is the hot path of identity verification."""
        cached = self._prefixes.get(prefix)
        if cached is None:
            province, gc, yy = prefix[:3], int(prefix[3]), int(prefix[4:6])
            if province not in ref.PROVINCE_CODES or gc > 3:
                return None
            cached = self._prefixes[prefix] = (
                self._feistel_key(province, gc, yy), gc % 2, 1900 + (gc // 2) * 100 + yy,
                self._mult[province], self._province_slots[province])
        return cached

    def _locate(self, personal_id: str) -> tuple[int, int, int, int,
                                                 tuple[int, int, int, int | None]] | None:
        """(index, chunk, offset, r, (tyear, gender, household, family salt)) of a
        base-population personal ID, or None (see ``_id_templates``)."""
        if len(personal_id) != 12 or not personal_id.isdigit():
            return None
        found = self._prefix(personal_id[:6])
        if found is None:
            return None
        key, gender, year, mult, province_slots = found
        serial = unscramble(int(personal_id[6:]), key)
        if serial >= BIRTH_SERIAL_BASE:
            return None
        rest, offset = divmod(serial, CHUNK)
        q, j = divmod(rest, self._max_mult)
        if j >= mult:
            return None
        slot = province_slots[j]
        member = self._id_templates[_mix(self._key ^ (slot * 1_000_003 + q)) % N_TEMPLATES][offset]
        r = member[0] - year
        if not 0 <= r < YEAR_SHIFTS or member[1] != gender:
            return None
        chunk = (q * YEAR_SHIFTS + r) * self._n_slots + slot
        index = chunk * CHUNK + offset
        return (index, chunk, offset, r, member) if index < self.size else None

    def index_of(self, personal_id: str) -> int | None:
        """The base-population index of a personal ID, or None if no base record has it."""
        found = self._locate(personal_id)
        return None if found is None else found[0]

    # --- records ------------------------------------------------------------------------------
    def _pick(self, table: str, h: int) -> str:
        names, cums = self._names[table]
        return names[bisect_right(cums, h % cums[-1])]

    def _members_valid(self, chunk: int, member: Member) -> bool:
        # The last, partial chunk cuts a household: its survivors become one-person households.
        return chunk * CHUNK + member.end_offset <= self.size

    def _household_id(self, chunk: int, household: int) -> str:
        return f"HH{chunk:010d}{household:02d}"

    def _address(self, h: int, province: str) -> str:
        kind = "Thành phố" if province in ref.CITIES else "Tỉnh"
        street = ref.STREETS[h % len(ref.STREETS)]
        return (f"Số {1 + (h >> 8) % 300}, đường {street}, phường {1 + (h >> 20) % 15}, "
                f"{kind} {ref.PROVINCE_NAME[province]}")

    def _identity_core(self, index: int, chunk: int, offset: int, member: Member,
                       r: int) -> tuple[int, int, int, str, str, str]:
        """(own hash, household hash, birth year, family name, full name, date of birth)."""
        h = _mix(self._key ^ (index * 0x9E3779B1 + 17))
        hh = _mix(self._key ^ (chunk * 64 + member.household))  # household-wide traits
        year = member.tyear - r
        # Children carry the father's family name; otherwise the household draws its own.
        salt = (member.father if member.relation in ("son", "daughter")
                and member.father is not None else offset)
        full_name, date_of_birth = name_and_birth(self._name_tables, self._key, index, chunk,
                                                  year, member.gender, member.household, salt)
        family = self._pick("family", _mix(hh ^ salt))  # the draw name_and_birth made
        return h, hh, year, family, full_name, date_of_birth

    def identity(self, personal_id: str) -> tuple[str, str] | None:
        """(full_name, date_of_birth) of a personal ID without building the whole record."""
        born = self.overlay.births.get(personal_id)
        if born is not None:
            return born.full_name, born.date_of_birth
        found = self._locate(personal_id)
        if found is None:
            return None
        index, chunk, offset, r, (tyear, gender, household, father) = found
        # The name and date of birth _identity_core gives, from the flat template tuples: the
        # hot path of every verification (tests check that the two agree).
        return name_and_birth(self._name_tables, self._key, index, chunk, tyear - r, gender,
                              household, offset if father is None else father)

    def citizen(self, index: int) -> Citizen:
        if not 0 <= index < self.size:
            raise IndexError(f"citizen index {index} outside 0..{self.size - 1}")
        chunk, offset, slot, r, q = self._split(index)
        template = self._template(slot, q)
        member = template[offset]
        intact = self._members_valid(chunk, member)
        base = chunk * CHUNK
        h, hh, year, family, full_name, date_of_birth = self._identity_core(
            index, chunk, offset, member, r)
        province, _ = self._slots[slot]
        pid = self._pid_of(index)

        def link(offset_: int | None) -> str | None:
            return self._pid_of(base + offset_) if intact and offset_ is not None else None

        home_province = province if (hh >> 3) % 10 < 6 else ref.PROVINCES[(hh >> 7) % 63][0]
        residence_province = province if (hh >> 13) % 10 < 8 else ("001", "079", "074")[(hh >> 17) % 3]
        permanent = self._address(hh, residence_province)
        temporary = self._address(h >> 24, ref.PROVINCES[(h >> 30) % 63][0]) \
            if (h >> 40) % 10 == 0 and year < 2008 else None
        household_id = self._household_id(chunk, member.household if intact else CHUNK + offset)
        deceased = member.deceased or year < 1922
        date_of_death = None
        if deceased:
            died = date(min(year + 70 + (h >> 44) % 25, REFERENCE_DATE.year - 1), 1, 1)
            date_of_death = (died + timedelta(days=(h >> 50) % 365)).isoformat()
        status = member.marital_status
        if not intact and status == "married":
            status = "widowed"
        old_id = f"{(h >> 20) % 10**9:09d}" if year < 2000 and (h >> 52) % 10 < 7 else None
        citizen = Citizen(
            index=index, personal_id=pid, full_name=full_name, family_name=family,
            date_of_birth=date_of_birth, gender=GENDERS[member.gender],
            place_of_birth_registration=ref.PROVINCE_NAME[province],
            hometown=ref.PROVINCE_NAME[home_province],
            ethnicity=self._pick("ethnicity", hh >> 21), religion=self._pick("religion", hh >> 35),
            nationality="Việt Nam", blood_type=self._pick("blood", h >> 33),
            old_id_number=old_id, permanent_residence=permanent, temporary_residence=temporary,
            current_address=temporary or permanent, household_id=household_id,
            relation_to_head=member.relation if intact else RELATIONS_HEAD,
            father_id=link(member.father), mother_id=link(member.mother),
            spouse_id=link(member.spouse), marital_status=status, date_of_death=date_of_death)
        return self._apply_overlay(citizen)

    def _apply_overlay(self, citizen: Citizen) -> Citizen:
        changes: dict[str, Any] = {}
        if citizen.personal_id in self.overlay.deaths:
            changes["date_of_death"] = self.overlay.deaths[citizen.personal_id]
        if citizen.personal_id in self.overlay.moves:
            changes["permanent_residence"] = self.overlay.moves[citizen.personal_id]
            changes["current_address"] = self.overlay.moves[citizen.personal_id]
        return replace(citizen, **changes) if changes else citizen

    def by_personal_id(self, personal_id: str) -> Citizen | None:
        born = self.overlay.births.get(personal_id)
        if born is not None:
            return self._apply_overlay(born)
        index = self.index_of(personal_id)
        return None if index is None else self.citizen(index)

    @staticmethod
    def province_code(place: str) -> str | None:
        """Code of the province an address ends with ("..., Hà Nội" -> "001"), else None."""
        return next((code for code, name in ref.PROVINCE_NAME.items() if place.endswith(name)),
                    None)

    def household(self, household_id: str) -> Household | None:
        if len(household_id) != 14 or not household_id.startswith("HH") \
                or not household_id[2:].isdigit():
            return None
        chunk, number = int(household_id[2:12]), int(household_id[12:])
        if chunk * CHUNK >= self.size:
            return None
        if number >= 2 * CHUNK:
            return None
        if number >= CHUNK:  # a one-person household cut from the last chunk
            offsets = [number - CHUNK] if chunk * CHUNK + number - CHUNK < self.size else []
        else:
            _, _, slot, _, q = self._split(chunk * CHUNK)
            template = self._template(slot, q)
            offsets = [o for o, m in enumerate(template) if m.household == number]
        citizens = [self.citizen(chunk * CHUNK + o) for o in offsets]
        citizens = [c for c in citizens if c.household_id == household_id]
        if not citizens:
            return None
        members = [(c.personal_id, c.relation_to_head) for c in citizens]
        for pid in self.overlay.household_births.get(household_id, []):
            members.append((pid, self.overlay.births[pid].relation_to_head))
        head = citizens[0]
        return Household(household_id, head.permanent_residence, tuple(members))

    # --- changes --------------------------------------------------------------------------------
    def record_death(self, personal_id: str, on: date | None = None) -> Citizen:
        citizen = self._require(personal_id)
        self.overlay.deaths[personal_id] = (on or REFERENCE_DATE).isoformat()
        return self._apply_overlay(citizen)

    def record_move(self, personal_id: str, new_address: str) -> Citizen:
        citizen = self._require(personal_id)
        self.overlay.moves[personal_id] = new_address
        return self._apply_overlay(citizen)

    def register_birth(self, mother_id: str, *, gender: str = "female",
                       born: date | None = None) -> Citizen:
        """A newborn joins the mother's household as a child; gets a fresh, valid personal ID."""
        mother = self._require(mother_id)
        born = born or REFERENCE_DATE
        province = mother_id[:3]
        g = GENDERS.index(gender)
        serial = BIRTH_SERIAL_BASE + self._births_registered
        self._births_registered += 1
        pid = self._make_pid(province, g, born.year, serial)
        father = self.by_personal_id(mother.spouse_id) if mother.spouse_id else None
        family = father.family_name if father else mother.family_name
        givens = ref.GIVEN_FEMALE if g else ref.GIVEN_MALE
        middle = "Thị" if g else "Văn"
        child = replace(
            mother, index=-1, personal_id=pid, family_name=family,
            full_name=f"{family} {middle} {givens[serial % len(givens)]}",
            date_of_birth=born.isoformat(), gender=gender, old_id_number=None,
            place_of_birth_registration=ref.PROVINCE_NAME[province],
            relation_to_head=child_relation(g), father_id=mother.spouse_id, mother_id=mother_id,
            spouse_id=None, marital_status="single", date_of_death=None, temporary_residence=None,
            current_address=mother.permanent_residence)
        self.overlay.births[pid] = child
        self.overlay.household_births.setdefault(mother.household_id, []).append(pid)
        return child

    def _require(self, personal_id: str) -> Citizen:
        citizen = self.by_personal_id(personal_id)
        if citizen is None:
            raise KeyError(personal_id)
        return citizen

    # --- sampling for tests and the harness -------------------------------------------------------
    SAMPLE_KINDS = ("adult", "married_couple", "child_with_parents", "household", "deceased")

    def sample(self, kind: str, n: int, rng_seed: int = 0) -> list[Citizen]:
        found: list[Citizen] = []
        for citizen in self.iter_sample(kind, rng_seed, attempts=max(2000, n * 400)):
            if len(found) >= n:
                break
            found.append(citizen)
        return found

    def iter_sample(self, kind: str, rng_seed: int = 0,
                    attempts: int = 400_000) -> Iterator[Citizen]:
        """Citizens of a kind in the seeded draw order: ``sample(kind, n)`` is the first n of them,
        so a caller that must skip some (people another run holds) keeps the same order."""
        if kind not in self.SAMPLE_KINDS:
            raise ValueError(f"unknown sample kind {kind!r}; expected one of {self.SAMPLE_KINDS}")
        rng = random.Random(rng_seed)
        seen: set[int] = set()
        for _ in range(attempts):
            index = rng.randrange(self.size)
            if index in seen:
                continue
            seen.add(index)
            c = self.citizen(index)
            alive = c.date_of_death is None
            ok = {"adult": alive and c.age_on() >= 18,
                  "married_couple": alive and c.relation_to_head == "head" and c.spouse_id is not None,
                  "child_with_parents": alive and c.father_id is not None
                  and c.mother_id is not None and c.relation_to_head in ("son", "daughter"),
                  "household": c.relation_to_head == "head",
                  "deceased": not alive}[kind]
            if ok:
                yield c
