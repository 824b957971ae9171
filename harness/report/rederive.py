"""Re-derive a report's verdict from its results, popcert's own registry and the profile, as
`popcert verify`, `popcert sign` and `certificate issue` do.

A signature says who signed; it does not say the verdict follows from the results. A report whose
verdict contradicts the profile's rule (harness.profiles.decide) over its results is invalid. The
checks judged are this popcert's registry (the report must be of this popcert's version, see
harness/report/sign.py), never only those the report lists in ``run.registered_checks``: a report
with failing results deleted, and their ids trimmed from that list, would otherwise re-derive as
CERTIFIED (issue 21).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from harness.errors import PopcertError
from harness.profiles import Profile, Verdict, decide, load_profile
from harness.registry import default_registry
from harness.report.document import ReportDocument, ReportFormatError, WaiverEntry


class _RecordedWaiver:
    """A waiver as the report records it; valid on the run day by its own dates."""

    def __init__(self, entry: WaiverEntry) -> None:
        self.check_id = entry.check_id
        self.approved_on = date.fromisoformat(entry.approved_on)
        self.expires = date.fromisoformat(entry.expires)

    def valid_on(self, day: date) -> bool:
        return self.approved_on <= day <= self.expires


def rederived_verdict(report: ReportDocument) -> Verdict:
    """The verdict the profile's rule gives for the report's results (raises PopcertError)."""
    declared = report.profile
    try:
        profile = load_profile(declared.name)
    except PopcertError as unknown:
        raise PopcertError(f"profile {declared.name!r} is unknown to this popcert "
                           f"({unknown})") from None
    if profile.version != declared.version:
        raise PopcertError(f"profile {profile.name} version {declared.version!r} is "
                           f"unknown (this popcert has {profile.version!r})")
    run = report.run
    try:
        day = date.fromisoformat(run.started_at[:10])
    except ValueError:
        raise PopcertError(f"run.started_at {run.started_at!r} is not a date") from None
    statuses = {r.check.id: r.status for r in report.results}
    waivers = []
    for result in report.results:
        if result.waiver is not None:
            try:
                waivers.append(_RecordedWaiver(result.waiver))
            except ValueError:
                raise PopcertError(f"{result.check.id}: waiver dates are not dates") from None
    attested = {a.item_id for a in report.attestations if a.status == "attested"}
    # popcert's own registry, whatever the report lists: every mandatory check of the profile
    # must be there with its result (a missing one "did not run" and blocks).
    registered = sorted(set(default_registry().ids()) | set(run.registered_checks or ())
                        | set(statuses))
    return decide(profile, statuses, registered, run.complete, waivers, attested, day)


def coverage_problems(report: ReportDocument) -> list[str]:
    """Results and registered checks the report lacks against popcert's own registry, and
    results for checks popcert does not have; empty when the report covers the registry."""
    registry = set(default_registry().ids())
    problems = []
    listed = report.run.registered_checks
    if listed is None:
        problems.append("run.registered_checks is missing: the report does not say which checks "
                        "were registered — re-run the certification with this popcert")
    else:
        trimmed = sorted(registry - set(listed))
        if trimmed:
            problems.append(f"run.registered_checks lacks {len(trimmed)} check(s) this popcert "
                            f"registers ({_some(trimmed)}): the list was trimmed after the run")
    ids = [r.check.id for r in report.results]
    unknown = sorted(set(ids) - registry)
    if unknown:
        problems.append(f"results for {len(unknown)} check(s) this popcert does not register "
                        f"({_some(unknown)}): made up or from another popcert")
    duplicated = sorted({i for i in ids if ids.count(i) > 1})
    if duplicated:
        problems.append(f"more than one result for {_some(duplicated)}")
    if report.run.complete:
        # A complete run records every registered check (a suite not selected: `skip`).
        missing = sorted(registry - set(ids))
        if missing:
            profile = _profile_or_none(report.profile.name)
            mandatory = [c for c in missing if profile is not None and profile.is_mandatory(c)]
            problems.append(f"{len(missing)} registered check(s) have no result ({_some(missing)}"
                            + (f"; mandatory: {_some(mandatory)}" if mandatory else "")
                            + "): results were deleted after the run")
    return problems


def _profile_or_none(name: str) -> Profile | None:
    try:
        return load_profile(name)
    except PopcertError:
        return None


def _some(ids: list[str], limit: int = 8) -> str:
    shown = ", ".join(ids[:limit])
    return shown + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


def verdict_contradictions(report: ReportDocument | dict[str, Any]) -> list[str]:
    """Reasons the report's verdict does not follow from its results; empty when it does.

    ``report`` may be report JSON that already matched the schema (harness.report.sign.verify).
    """
    try:
        document = report if isinstance(report, ReportDocument) else ReportDocument.from_json(report)
        expected = rederived_verdict(document)
    except (PopcertError, ReportFormatError) as problem:
        return [f"cannot re-derive the verdict: {problem}"]
    claimed = document.verdict.status
    if claimed == expected.status:
        return []
    why = "; ".join(expected.reasons[:5]) or "every mandatory check passed or is waived"
    return [(f"verdict {claimed!r} contradicts the report's own results: the profile's rule gives "
            f"{expected.status} ({why})")]
