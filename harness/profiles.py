"""Certification profiles (specs/profiles/*.yaml) and the verdict rule.

A profile says which checks are mandatory and the thresholds suites measure against. The verdict
is CERTIFIED only when the run is complete and every mandatory check passed or carries a valid,
unexpired waiver, and every required attestation is present.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from harness import resources
from harness.errors import ConfigError
from harness.yaml_documents import read_yaml, validation_error

PROFILES_DIR = resources.profiles_dir()

CERTIFIED = "CERTIFIED"
NOT_CERTIFIED = "NOT CERTIFIED"
INCOMPLETE = "INCOMPLETE"
PROFILE_HINT = "see specs/profiles/README.md"
SUMMARY_CHARS = 200  # of a blocking check's summary quoted in the verdict's reason


class AttestationItem(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    title_vi: str
    title_en: str
    required: bool = True


class Profile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    version: str
    title_vi: str
    title_en: str
    mtls: str = Field("optional", pattern="^(off|optional|required)$")
    validity_days: int = Field(365, ge=1, le=1825)  # how long a certificate from it is valid
    mandatory: list[str]  # check ids or glob patterns such as "AUTH-*"
    advisory: list[str] = Field(default_factory=list)  # reported, never blocking
    thresholds: dict[str, dict[str, Any]] = Field(default_factory=dict)
    attestations: list[AttestationItem] = Field(default_factory=list)

    @field_validator("thresholds")
    @classmethod
    def _latency_budgets(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        # thresholds.conformance.latency_budget_ms: ms, or {operationId|read|write|default: ms}
        budget = value.get("conformance", {}).get("latency_budget_ms")
        budgets = budget.values() if isinstance(budget, dict) else [budget]
        if budget is not None and not all(
                isinstance(b, (int, float)) and not isinstance(b, bool) and b > 0 for b in budgets):
            raise ValueError("conformance.latency_budget_ms: milliseconds > 0, or a mapping of "
                             "operationId / read / write / default to milliseconds > 0")
        return value

    def is_mandatory(self, check_id: str) -> bool:
        if any(fnmatch.fnmatchcase(check_id, p) for p in self.advisory):
            return False
        return any(fnmatch.fnmatchcase(check_id, p) for p in self.mandatory)

    def threshold(self, suite: str, name: str, default: Any = None) -> Any:
        return self.thresholds.get(suite, {}).get(name, default)


def load_profile(name_or_path: str | Path) -> Profile:
    path = Path(name_or_path)
    if not path.suffix:
        path = PROFILES_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in PROFILES_DIR.glob("*.yaml")))
        raise ConfigError(path, "profile", f"no such profile {name_or_path!r}",
                          f"use one of {known}")
    raw, _node = read_yaml(path, what="profile", hint=PROFILE_HINT)
    try:
        return Profile.model_validate(raw)
    except ValidationError as invalid:
        # No node: the field is the bare dotted path (callers and tests match on it).
        raise validation_error(path, None, invalid, default_hint=PROFILE_HINT) from None


class WaiverLike(Protocol):
    @property
    def check_id(self) -> str: ...  # read-only: a waiver is a frozen model

    def valid_on(self, day: date) -> bool: ...


# A check that could not be judged because popcert's own measurement was saturated ends `error`
# with this prefix (harness/health.py): the verdict is then NOT CERTIFIED, marked inconclusive.
INCONCLUSIVE_PREFIX = "inconclusive: "


@dataclass(frozen=True)
class Verdict:
    status: str
    reasons: tuple[str, ...]
    blocking: tuple[str, ...]
    # NOT CERTIFIED with no mandatory check failed and these blocking checks inconclusive
    # (measured while popcert was saturated): not a failure of the system, re-run elsewhere.
    inconclusive: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"status": self.status, "reasons": list(self.reasons),
                                "blocking": list(self.blocking)}
        if self.inconclusive:
            data["inconclusive"] = list(self.inconclusive)
        return data

    @property
    def exit_code(self) -> int:
        return 0 if self.status == CERTIFIED else 1


def decide(profile: Profile, statuses: dict[str, str], registered: list[str], complete: bool,
           waivers: Sequence[WaiverLike], attested: set[str], day: date, *,
           expired: Mapping[str, date] | None = None,
           summaries: Mapping[str, str] | None = None) -> Verdict:
    """The verdict rule. ``statuses`` maps check id to status for the checks that ran.

    ``expired`` maps an attestation item with no valid attestation to the day its latest one
    expired; ``summaries`` (check id -> summary) make a blocking check's reason say why.
    """
    valid_waivers = {w.check_id for w in waivers if w.valid_on(day)}
    reasons: list[str] = []
    blocking: list[str] = []
    for check_id in sorted(registered):
        if not profile.is_mandatory(check_id):
            continue
        status = statuses.get(check_id)
        if status == "pass":
            continue
        if check_id in valid_waivers:
            continue
        blocking.append(check_id)
        why = " ".join(str((summaries or {}).get(check_id) or "").split())
        if len(why) > SUMMARY_CHARS:
            why = why[:SUMMARY_CHARS - 1] + "…"
        reasons.append(f"{check_id}: mandatory check "
                       + (f"ended {status}" if status else "did not run")
                       + (f" — {why}" if why and status else ""))
    for item in profile.attestations:
        if item.required and item.id not in attested:
            until = (expired or {}).get(item.id)
            reasons.append(f"attestation {item.id} ({item.title_en}) "
                           + (f"expired on {until.isoformat()}: renew it" if until
                              else "is missing"))
    if not complete:
        return Verdict(INCOMPLETE, ("the run did not finish", *reasons), tuple(blocking))
    if reasons:
        inconclusive = tuple(c for c in blocking if statuses.get(c) == "error" and str(
            (summaries or {}).get(c) or "").startswith(INCONCLUSIVE_PREFIX))
        if inconclusive and not any(statuses.get(c) == "fail" for c in blocking):
            reasons.insert(0, f"inconclusive, not failed: {', '.join(inconclusive)} could not be "
                              "judged because popcert itself was saturated while measuring; "
                              "no mandatory check failed — re-run on a quieter host")
            return Verdict(NOT_CERTIFIED, tuple(reasons), tuple(blocking), inconclusive)
        return Verdict(NOT_CERTIFIED, tuple(reasons), tuple(blocking))
    return Verdict(CERTIFIED, (), ())
