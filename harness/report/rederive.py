"""Re-derive a report's verdict from its own results and its profile, as `popcert verify` does.

A signature says who signed; it does not say the verdict follows from the results. A report whose
verdict contradicts the profile's rule (harness.profiles.decide) over its results is invalid.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from harness.registry import default_registry
from harness.errors import PopcertError
from harness.profiles import Verdict, decide, load_profile


class _RecordedWaiver:
    """A waiver as the report records it; valid on the run day by its own dates."""

    def __init__(self, entry: dict[str, Any]) -> None:
        self.check_id = str(entry.get("check_id", ""))
        self.approved_on = date.fromisoformat(str(entry["approved_on"]))
        self.expires = date.fromisoformat(str(entry["expires"]))

    def valid_on(self, day: date) -> bool:
        return self.approved_on <= day <= self.expires


def rederived_verdict(report: dict[str, Any]) -> Verdict:
    """The verdict the profile's rule gives for the report's results (raises PopcertError)."""

    profile_meta = report.get("profile") or {}
    try:
        profile = load_profile(str(profile_meta.get("name", "")))
    except PopcertError as unknown:
        raise PopcertError(f"profile {profile_meta.get('name')!r} is unknown to this popcert "
                           f"({unknown})") from None
    if profile.version != profile_meta.get("version"):
        raise PopcertError(f"profile {profile.name} version {profile_meta.get('version')!r} is "
                           f"unknown (this popcert has {profile.version!r})")
    run = report.get("run") or {}
    try:
        day = date.fromisoformat(str(run.get("started_at", ""))[:10])
    except ValueError:
        raise PopcertError(f"run.started_at {run.get('started_at')!r} is not a date") from None
    results = report.get("results") or []
    statuses = {r["check"]["id"]: r["status"] for r in results}
    waivers = []
    for result in results:
        entry = result.get("waiver")
        if entry:
            try:
                waivers.append(_RecordedWaiver(entry))
            except (KeyError, ValueError):
                raise PopcertError(f"{result['check']['id']}: waiver dates are not dates") from None
    attested = {a.get("item_id") for a in report.get("attestations") or []
                if a.get("status") == "attested"}
    # The checks registered when the report was made; an older report lacks the list, and then
    # today's registry is the best approximation.
    known = run.get("registered_checks") or default_registry().ids()
    registered = sorted(set(known) | set(statuses))
    return decide(profile, statuses, registered, bool(run.get("complete")), waivers,
                  attested, day)


def verdict_contradictions(report: dict[str, Any]) -> list[str]:
    """Reasons the report's verdict does not follow from its results; empty when it does."""
    try:
        expected = rederived_verdict(report)
    except PopcertError as problem:
        return [f"cannot re-derive the verdict: {problem}"]
    claimed = (report.get("verdict") or {}).get("status")
    if claimed == expected.status:
        return []
    why = "; ".join(expected.reasons[:5]) or "every mandatory check passed or is waived"
    return [(f"verdict {claimed!r} contradicts the report's own results: the profile's rule gives "
            f"{expected.status} ({why})")]
