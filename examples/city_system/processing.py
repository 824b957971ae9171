"""Decides a dossier's outcome from NPDB answers, one rule set per procedure.

Each person is verified or looked up once per dossier (memoised), with the procedure's purpose code
and only the fields its decision reads. NPDB unavailability propagates (``NpdbUnavailable``): the
worker keeps the dossier pending and tries again later.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from popcert_city import procedures as p
from popcert_city.defects import active
from popcert_city.npdb_client import NpdbClient

LEGAL_MARRIAGE_AGE = {"male": 20, "female": 18}  # Law on Marriage and Family 2014, art. 8
CHILD_INSURANCE_MAX_AGE = 6


@dataclass(frozen=True)
class Decision:
    outcome: str  # approved | rejected
    reasons: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        return "completed" if self.outcome == "approved" else "rejected"


def age_on(born: str, day: date) -> int:
    b = date.fromisoformat(born)
    return day.year - b.year - ((day.month, day.day) < (b.month, b.day))


class Lookups:
    """NPDB calls for one dossier: memoised, so nobody is asked about twice."""

    def __init__(self, client: NpdbClient, purpose: str) -> None:
        self.client = client
        self.purpose = purpose
        self._memo: dict[tuple[str, str], Any] = {}

    async def _once(self, key: tuple[str, str], call: Callable[[], Awaitable[Any]]) -> Any:
        if key not in self._memo:
            self._memo[key] = await call()
            if active("npdb.redundant_calls"):
                await call()
        return self._memo[key]

    async def identity_matches(self, person: dict[str, Any]) -> bool:
        answer = await self._once(("verify", person["personal_id"] + person["full_name"] + person["date_of_birth"]),
                                  lambda: self.client.verify_identity(self.purpose, person))
        return bool(answer.get("match"))

    async def citizen(self, personal_id: str) -> dict[str, Any] | None:
        fields = p.fields_for(self.purpose, overfetch=active("npdb.overfetch_fields"),
                              whole_purpose=active("npdb.overfetch_purpose_fields"))
        result: dict[str, Any] | None = await self._once(
            ("citizen", personal_id), lambda: self.client.citizen(self.purpose, personal_id, fields))
        return result

    async def residence(self, personal_id: str) -> dict[str, Any] | None:
        result: dict[str, Any] | None = await self._once(
            ("residence", personal_id), lambda: self.client.residence(self.purpose, personal_id))
        return result

    async def household(self, household_id: str) -> dict[str, Any] | None:
        result: dict[str, Any] | None = await self._once(
            ("household", household_id), lambda: self.client.household(self.purpose, household_id))
        return result


async def decide(client: NpdbClient, procedure_code: str, applicant: dict[str, Any],
                 details: dict[str, Any], today: date | None = None) -> Decision:
    rules = _RULES[procedure_code]
    return await rules(Lookups(client, procedure_code), applicant, details, today or date.today())


async def _verify_all(look: Lookups, people: dict[str, dict[str, Any]]) -> list[str]:
    return [f"{role} identity does not match the NPDB" for role, person in people.items()
            if not await look.identity_matches(person)]


async def _birth(look: Lookups, applicant: dict[str, Any], details: dict[str, Any], today: date) -> Decision:
    people = {"mother": details["mother"]}
    if details.get("father"):
        people["father"] = details["father"]
    reasons = await _verify_all(look, people)
    return Decision("rejected", reasons) if reasons else Decision("approved")


async def _marriage(look: Lookups, applicant: dict[str, Any], details: dict[str, Any], today: date) -> Decision:
    spouses = {"spouse_a": details["spouse_a"], "spouse_b": details["spouse_b"]}
    reasons = await _verify_all(look, spouses)
    if reasons:
        return Decision("rejected", reasons)
    if spouses["spouse_a"]["personal_id"] == spouses["spouse_b"]["personal_id"]:
        return Decision("rejected", ["spouses are the same person"])
    for role, person in spouses.items():
        record = await look.citizen(person["personal_id"])
        if record is None:
            reasons.append(f"{role} not found in the NPDB")
            continue
        married = record.get("marital_status") == "married"
        if married and not active("scenario.wrong_outcome"):
            reasons.append(f"{role} is already married")
        gender = record.get("gender")
        born = person["date_of_birth"]  # the dossier's, matched by identity/verify above
        minimum = LEGAL_MARRIAGE_AGE.get(str(gender), 20)
        if age_on(born, today) < minimum:
            reasons.append(f"{role} is under the legal marriage age ({minimum})")
    return Decision("rejected", reasons) if reasons else Decision("approved")


async def _death(look: Lookups, applicant: dict[str, Any], details: dict[str, Any], today: date) -> Decision:
    reasons = await _verify_all(look, {"declarant": applicant})
    if reasons:
        return Decision("rejected", reasons)
    deceased = await look.citizen(details["deceased_personal_id"])
    if deceased is None and not active("scenario.not_found_approved"):
        return Decision("rejected", ["deceased person not found in the NPDB"])
    if deceased is None:  # the defect: an NPDB 404 taken as nothing against the dossier
        return Decision("approved")
    if deceased.get("date_of_death"):
        return Decision("rejected", ["death already registered"])
    if date.fromisoformat(details["date_of_death"]) > today:
        return Decision("rejected", ["date of death is in the future"])
    return Decision("approved")


async def _residence_registration(look: Lookups, applicant: dict[str, Any], details: dict[str, Any],
                                  today: date) -> Decision:
    reasons = await _verify_all(look, {"applicant": applicant})
    if reasons:
        return Decision("rejected", reasons)
    await look.residence(applicant["personal_id"])  # current residence: registration moves it
    household_id = details.get("household_id")
    if household_id and await look.household(household_id) is None \
            and not active("scenario.not_found_approved"):
        return Decision("rejected", ["household not found in the NPDB"])
    return Decision("approved")


async def _residence_removal(look: Lookups, applicant: dict[str, Any], details: dict[str, Any],
                             today: date) -> Decision:
    reasons = await _verify_all(look, {"applicant": applicant})
    if reasons:
        return Decision("rejected", reasons)
    residence = await look.residence(applicant["personal_id"])
    if not residence or not residence.get("permanent_residence"):
        return Decision("rejected", ["no permanent residence registered"])
    return Decision("approved")


async def _child_insurance(look: Lookups, applicant: dict[str, Any], details: dict[str, Any],
                           today: date) -> Decision:
    child = details["child"]
    reasons = await _verify_all(look, {"applicant": applicant, "child": child})
    if reasons:
        return Decision("rejected", reasons)
    record = await look.citizen(child["personal_id"])
    if record is None:
        return Decision("rejected", ["child not found in the NPDB"])
    if age_on(child["date_of_birth"], today) >= CHILD_INSURANCE_MAX_AGE:  # verified above
        reasons.append("child is 6 or older")
    if applicant["personal_id"] not in {record.get("father_id"), record.get("mother_id")}:
        reasons.append("applicant is not a parent of the child")
    return Decision("rejected", reasons) if reasons else Decision("approved")


async def _funeral_allowance(look: Lookups, applicant: dict[str, Any], details: dict[str, Any],
                             today: date) -> Decision:
    reasons = await _verify_all(look, {"applicant": applicant})
    if reasons:
        return Decision("rejected", reasons)
    deceased = await look.citizen(details["deceased_personal_id"])
    if deceased is None or not deceased.get("date_of_death"):
        return Decision("rejected", ["no registered death for this person"])
    return Decision("approved")


_RULES = {
    p.BIRTH: _birth, p.MARRIAGE: _marriage, p.DEATH: _death,
    p.RESIDENCE_REGISTRATION: _residence_registration, p.RESIDENCE_REMOVAL: _residence_removal,
    p.CHILD_INSURANCE: _child_insurance, p.FUNERAL_ALLOWANCE: _funeral_allowance,
}
