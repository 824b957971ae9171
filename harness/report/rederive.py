"""Re-derive a report's verdict from its own results and its profile, as `popcert verify` does.

A signature says who signed; it does not say the verdict follows from the results. A report whose
verdict contradicts the profile's rule (harness.profiles.decide) over its results is invalid.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from harness.errors import PopcertError
from harness.profiles import Verdict, decide, load_profile
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
    # The checks registered when the report was made; an older report lacks the list, and then
    # today's registry is the best approximation.
    known = run.registered_checks or default_registry().ids()
    registered = sorted(set(known) | set(statuses))
    return decide(profile, statuses, registered, run.complete, waivers, attested, day)


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
