"""The assessor's inputs to a certification: waivers for failed checks and manual attestations.

Both are YAML files the assessor signs off (paths in run.yaml ``assessor:``). A waiver only counts
on days between its approval and its expiry; the verdict code (harness.profiles.decide) asks
``Waiver.valid_on(run_date)``. Errors name the file, the field and the fix.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from harness.errors import ConfigError
from harness.yaml_documents import read_yaml

CHECK_ID = re.compile(r"^(CONF|SCN|LOAD|AUTH|TLS|FW|SAST)-[A-Z0-9][A-Z0-9-]*$")

_HINTS = {
    "check_id": "use a registered check id such as AUTH-JWT-ALG-NONE (`popcert checks` lists them)",
    "approved_on": "write the date as YYYY-MM-DD",
    "expires": "write the date as YYYY-MM-DD, after approved_on",
    "date": "write the date as YYYY-MM-DD",
    "assessor": "name the assessor who signs this off",
    "reason": "say why the failure is acceptable and what mitigates it",
    "statement": "say what the assessor verified",
    "evidence_refs": "a list of document references, e.g. [\"ATTT-2024-017 §3\"]",
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Waiver(_Strict):
    """An assessor's acceptance of one failed mandatory check, for a bounded period."""

    check_id: str
    reason: str = Field(min_length=10)
    assessor: str = Field(min_length=2)
    approved_on: date
    expires: date

    @field_validator("check_id")
    @classmethod
    def _known_shape(cls, value: str) -> str:
        if not CHECK_ID.match(value):
            raise ValueError("is not a check id (PREFIX-WHAT, prefixes CONF SCN LOAD AUTH TLS FW SAST)")
        return value

    @model_validator(mode="after")
    def _expires_after_approval(self) -> Waiver:
        # A waiver with no future is a typo, not a decision: refuse it rather than silently ignore it.
        if self.expires <= self.approved_on:
            raise ValueError("expires: must be after approved_on")
        return self

    def valid_on(self, day: date) -> bool:
        return self.approved_on <= day <= self.expires

    def to_report(self, day: date) -> dict[str, Any]:
        """The report's ``results[].waiver`` shape, with validity decided for the run date."""
        return {"check_id": self.check_id, "reason": self.reason, "assessor": self.assessor,
                "approved_on": self.approved_on.isoformat(), "expires": self.expires.isoformat(),
                "valid": self.valid_on(day)}


_Day = date  # Attestation has a field named date: in its body the name is the field, not the type


class Attestation(_Strict):
    """An assessor's statement that a manual item (a profile attestation) was verified."""

    item_id: str = Field(min_length=1)
    assessor: str = Field(min_length=2)
    date: date
    statement: str = Field(min_length=10)
    evidence_refs: list[str] = Field(default_factory=list)
    # Optional: some attestations (e.g. a penetration test) are only good for a period.
    expires: _Day | None = None

    def valid_on(self, day: _Day) -> bool:
        return self.date <= day and (self.expires is None or day <= self.expires)


_Model = TypeVar("_Model", Waiver, Attestation)


def load_waivers(path: Path | str) -> list[Waiver]:
    """Read ``waivers: [...]`` from a YAML file; raises ConfigError naming file, field and fix."""
    return _load_list(Path(path), "waivers", Waiver)


def load_attestations(path: Path | str) -> list[Attestation]:
    """Read ``attestations: [...]`` from a YAML file; raises ConfigError naming file, field and fix."""
    return _load_list(Path(path), "attestations", Attestation)


# A top-level ``example:`` key marks one of popcert's shipped example files (examples/assessor/,
# the reference system's attestations): its entries are nobody's sign-off, so a report made with
# it is never certified (harness/certificate/eligibility.py).
EXAMPLE_KEY = "example"


def is_example_file(path: Path | str) -> bool:
    """True when the waivers/attestations file is marked as a shipped example (``example:``)."""
    raw, _node = read_yaml(Path(path), what="file", hint="see examples/assessor/")
    return isinstance(raw, dict) and bool(raw.get(EXAMPLE_KEY))


def waiver_for(check_id: str, waivers: list[Waiver], day: date) -> Waiver | None:
    """The waiver to show for a check: a valid one if any, else the latest (expired) one."""
    mine = [w for w in waivers if w.check_id == check_id]
    if not mine:
        return None
    valid = [w for w in mine if w.valid_on(day)]
    return max(valid or mine, key=lambda w: w.expires)


def expired_attestations(attestations: list[Attestation], day: date) -> dict[str, date]:
    """Item id -> the day its latest attestation expired, for items with no valid attestation.

    The verdict then says "expired on DATE" instead of "missing" (harness.profiles.decide).
    """
    valid = {a.item_id for a in attestations if a.valid_on(day)}
    expired: dict[str, date] = {}
    for attestation in attestations:
        if attestation.item_id in valid or attestation.expires is None \
                or attestation.expires >= day:
            continue
        expired[attestation.item_id] = max(attestation.expires,
                                           expired.get(attestation.item_id, attestation.expires))
    return expired


def attestation_entries(items: list[Any], attestations: list[Attestation],
                        day: date) -> list[dict[str, Any]]:
    """The report's ``attestations`` list: one entry per profile item (id, title_*, required).

    ``items`` are harness.profiles.AttestationItem (anything with id, title_en, title_vi, required).
    """
    entries: list[dict[str, Any]] = []
    for item in items:
        given = [a for a in attestations if a.item_id == item.id]
        current = [a for a in given if a.valid_on(day)]
        chosen = max(current or given, key=lambda a: a.date) if given else None
        status = "missing" if chosen is None else ("attested" if current else "expired")
        entries.append({
            "item_id": item.id, "title": item.title_en, "title_vi": item.title_vi,
            "required": bool(item.required), "status": status,
            "assessor": chosen.assessor if chosen else None,
            "date": chosen.date.isoformat() if chosen else None,
            "expires": chosen.expires.isoformat() if chosen and chosen.expires else None,
            "statement": chosen.statement if chosen else None,
            "evidence_refs": list(chosen.evidence_refs) if chosen else []})
    return entries


def _load_list(path: Path, key: str, model: type[_Model]) -> list[_Model]:
    raw, _node = read_yaml(path, what="file", hint=f"see examples/assessor/{key}.yaml")
    if raw is None:
        return []
    if not isinstance(raw, dict) or not isinstance(raw.get(key, []), list):
        raise ConfigError(path, key, f"the file must be a mapping with a list under '{key}:'",
                          f"see examples/assessor/{key}.yaml")
    unknown = sorted(set(raw) - {key, EXAMPLE_KEY})
    if unknown:
        raise ConfigError(path, unknown[0], "unknown top-level field",
                          f"the file holds only '{key}:' (and '{EXAMPLE_KEY}:' in popcert's "
                          "shipped examples)")
    entries: list[_Model] = []
    for index, item in enumerate(raw.get(key) or []):
        try:
            entries.append(model.model_validate(item))
        except ValidationError as invalid:
            raise _field_error(path, f"{key}[{index}]", invalid) from None
    return entries


def _field_error(path: Path, prefix: str, invalid: ValidationError) -> ConfigError:
    error = invalid.errors()[0]
    loc = [str(p) for p in error["loc"]]
    message = error["msg"].removeprefix("Value error, ")
    if not loc and ":" in message:
        # Model-level rules report as "field: message" so the user still gets a field name.
        name, message = (part.strip() for part in message.split(":", 1))
        loc = [name]
    name = loc[0] if loc else ""
    if error["type"] == "extra_forbidden":
        message, hint = "unknown field", "remove it or check its spelling"
    elif error["type"] == "missing":
        message, hint = "is required", _HINTS.get(name, "add it")
    else:
        got = error.get("input")
        if got is not None and not isinstance(got, (dict, list)):
            message = f"{got!r}: {message}"
        hint = _HINTS.get(name, "")
    return ConfigError(path, ".".join([prefix, *loc]), message, hint)
