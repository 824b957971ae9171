"""Purpose-of-use codes and the fields each procedure may read (specs/npdb/v1/purposes.yaml)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel

from harness import resources

# libyaml where PyYAML has it (the wheels do): the same data, parsed several times faster.
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

SPEC_DIR = resources.data_path("specs", "npdb", "v1")
PURPOSES_PATH = SPEC_DIR / "purposes.yaml"

# Every field a citizen record can carry, i.e. the universe `fields=` may name.
CITIZEN_FIELDS = (
    "personal_id", "full_name", "date_of_birth", "gender", "place_of_birth_registration",
    "hometown", "ethnicity", "religion", "nationality", "blood_type", "old_id_number",
    "permanent_residence", "temporary_residence", "current_address", "household_id",
    "relation_to_head", "father_id", "mother_id", "spouse_id", "marital_status", "date_of_death")
RESIDENCE_FIELDS = frozenset({"permanent_residence", "temporary_residence", "current_address"})


class Purpose(BaseModel):
    code: str
    name_vi: str
    name_en: str
    fields: list[str]


@lru_cache(maxsize=1)
def load_purposes(path: Path = PURPOSES_PATH) -> dict[str, Purpose]:
    raw = yaml.load(path.read_text(encoding="utf-8"), Loader=SAFE_LOADER)
    return {p["code"]: Purpose.model_validate(p) for p in raw["purposes"]}


PURPOSE_CODES = frozenset(load_purposes())


def allowed_fields(purpose_code: str, scopes: frozenset[str]) -> frozenset[str]:
    """Fields a client may read: purpose's list ∩ what its scopes cover."""
    purpose = load_purposes().get(purpose_code)
    if purpose is None:
        return frozenset()
    by_scope: set[str] = set()
    if "citizen.read" in scopes:
        by_scope.update(CITIZEN_FIELDS)
    elif "residence.read" in scopes:
        by_scope.update(RESIDENCE_FIELDS | {"personal_id"})
    return frozenset(purpose.fields) & by_scope
