"""What each administrative procedure needs from the NPDB: purpose code and citizen fields.

The purpose code sent in X-Purpose-Code is the procedure's code. A citizen lookup asks only for the
fields the decision uses (data minimisation); they must also be allowed for the purpose in
``specs/npdb/v1/purposes.yaml``, which is read when present.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from harness import resources

BIRTH = "1.001193"
MARRIAGE = "1.000894"
DEATH = "1.000656"
RESIDENCE_REGISTRATION = "1.004194"
RESIDENCE_REMOVAL = "1.004206"
CHILD_INSURANCE = "1.011451"
FUNERAL_ALLOWANCE = "1.002045"

# Every field of an NPDB citizen record: what an over-fetching client asks for.
ALL_CITIZEN_FIELDS = (
    "personal_id", "full_name", "date_of_birth", "gender", "place_of_birth_registration", "hometown",
    "ethnicity", "religion", "nationality", "blood_type", "old_id_number", "permanent_residence",
    "temporary_residence", "current_address", "household_id", "relation_to_head", "father_id",
    "mother_id", "spouse_id", "marital_status", "date_of_death")


@dataclass(frozen=True)
class Procedure:
    code: str
    name_en: str
    lookup_fields: tuple[str, ...]  # fields of GET /citizens/{id} this procedure's decision reads


PROCEDURES: dict[str, Procedure] = {p.code: p for p in (
    Procedure(BIRTH, "birth registration", ()),
    # Dates of birth are the dossier's, which identity/verify has matched to the NPDB: never re-read.
    Procedure(MARRIAGE, "marriage registration", ("gender", "marital_status")),
    Procedure(DEATH, "death registration", ("date_of_death",)),
    Procedure(RESIDENCE_REGISTRATION, "permanent residence registration", ()),
    Procedure(RESIDENCE_REMOVAL, "permanent residence removal", ()),
    Procedure(CHILD_INSURANCE, "health insurance card for a child under 6", ("father_id", "mother_id")),
    Procedure(FUNERAL_ALLOWANCE, "funeral allowance", ("date_of_death",)),
)}

PURPOSES_FILE = resources.data_path("specs", "npdb", "v1", "purposes.yaml")


@lru_cache(maxsize=1)
def allowed_fields_by_purpose(path: Path = PURPOSES_FILE) -> dict[str, frozenset[str]]:
    """code -> fields the NPDB allows for that purpose; empty when the file is absent."""
    if not path.exists():
        return {}
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    entries = raw.get("purposes", raw) if isinstance(raw, dict) else raw
    result: dict[str, frozenset[str]] = {}
    if isinstance(entries, dict):  # {code: {fields: [...]}}
        entries = [{"code": code, **(value or {})} for code, value in entries.items()]
    for entry in entries or []:
        if isinstance(entry, dict) and "code" in entry:
            result[str(entry["code"])] = frozenset(entry.get("fields") or ())
    return result


def fields_for(code: str, *, overfetch: bool = False, whole_purpose: bool = False) -> tuple[str, ...]:
    """The ``fields=`` list for a citizen lookup under purpose ``code``."""
    if overfetch:
        return ALL_CITIZEN_FIELDS
    if whole_purpose:  # defect switch npdb.overfetch_purpose_fields: the ceiling, not the need
        return tuple(sorted(allowed_fields_by_purpose().get(code, ())))
    wanted = PROCEDURES[code].lookup_fields
    allowed = allowed_fields_by_purpose().get(code)
    # never ask for more than the purpose allows, even if our decision table is wider
    return tuple(f for f in wanted if allowed is None or f in allowed)
