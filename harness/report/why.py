"""Why a run is not certified, in the order a reader needs it (issue 21 §4).

The verdict's reasons (harness.profiles.decide) are sorted by check id, so three real failures sit
among thirty "suite not selected" skips. ``ordered_reasons`` puts the run's own state first
(incomplete, inconclusive), then every failure and error with its one-line reason, then mandatory
checks that did not run and missing attestations, and collapses skips to one line per suite. The
HTML report and the terminal both read it; nothing here changes the verdict.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from harness.report.document import ReportDocument, ResultEntry

# The shapes harness.profiles.decide writes.
_CHECK_REASON = re.compile(r"^(?P<id>[A-Z0-9][A-Z0-9-]+): mandatory check "
                           r"(?:ended (?P<status>\w+)|did not run)(?: — (?P<why>.*))?$")
NOT_SELECTED = re.compile(r"^suite '(?P<suite>[^']+)' is not selected in the run config$")
# Kinds in the order they are listed.
ORDER = ("run", "fail", "error", "not_run", "attestation", "skip", "other")


@dataclass(frozen=True)
class Reason:
    """One line of "why not certified": a verdict reason, or the skips of one suite together."""

    kind: str  # one of ORDER
    text: str  # the verdict's own words (skips: one line for the suite)
    check_id: str | None = None
    suite: str | None = None
    check_ids: tuple[str, ...] = ()  # a collapsed skip line: the checks it stands for


def _kind(status: str | None) -> str:
    if status is None:
        return "not_run"
    return status if status in ("fail", "error") else "skip"


def ordered_reasons(reasons: Sequence[str], results: Iterable[ResultEntry]) -> list[Reason]:
    """The verdict's reasons, failures and errors first, skips one line per suite."""
    by_id = {r.check.id: r for r in results}
    lines: list[Reason] = []
    skipped: dict[str, list[tuple[str, str]]] = {}
    for reason in reasons:
        match = _CHECK_REASON.match(reason)
        if match is None:
            kind = ("attestation" if reason.startswith("attestation ") else
                    "run" if reason.startswith(("the run did not finish", "inconclusive")) else
                    "other")
            lines.append(Reason(kind, reason))
            continue
        check_id, kind = match["id"], _kind(match["status"])
        result = by_id.get(check_id)
        if kind == "skip":
            suite = result.check.suite if result is not None else "?"
            why = match["why"] or (result.summary if result is not None else "")
            skipped.setdefault(suite, []).append((check_id, why))
            continue
        lines.append(Reason(kind, reason, check_id,
                            result.check.suite if result is not None else None))
    for suite, entries in skipped.items():
        lines.append(Reason("skip", skip_line(suite, entries), suite=suite,
                            check_ids=tuple(check_id for check_id, _ in entries)))
    return sorted(lines, key=lambda line: ORDER.index(line.kind))  # stable: verdict order kept


def skip_line(suite: str, entries: Sequence[tuple[str, str]]) -> str:
    """``auth: 3 mandatory checks skipped — profile district does not require mTLS``."""
    whys = sorted({why for _, why in entries if why})
    count = len(entries)
    what = f"{count} mandatory check{'s' if count != 1 else ''} skipped"
    if len(whys) == 1 and NOT_SELECTED.match(whys[0]):
        return f"{suite}: {what} — the suite was not selected (--suite)"
    return f"{suite}: {what}" + (f" — {'; '.join(whys)}" if whys else "")


def unselected_suites(results: Iterable[ResultEntry]) -> list[str]:
    """Suites whose every check was skipped as not selected: the run was a partial --suite run."""
    seen: dict[str, bool] = {}
    for result in results:
        match = NOT_SELECTED.match(result.summary) if result.status == "skip" else None
        suite = result.check.suite
        seen[suite] = seen.get(suite, True) and match is not None
    return sorted(suite for suite, all_skipped in seen.items() if all_skipped)


def partial_run_line(report: ReportDocument) -> str | None:
    """One line when the run left suites out (``--suite``), else None."""
    left_out = unselected_suites(report.results)
    if not left_out:
        return None
    ran = sorted({r.check.suite for r in report.results} - set(left_out))
    return (f"partial run: only {', '.join(ran) or 'no suite'} ran; "
            f"{', '.join(left_out)} were not selected (--suite), so this run cannot certify")


def collapsed_results(results: Iterable[ResultEntry]
                      ) -> list[ResultEntry | tuple[str, list[ResultEntry]]]:
    """All results for a table: failures and errors first, then the rest by suite and id, with
    each suite's skipped checks as one ``(suite, [results])`` row."""
    order = {"fail": 0, "error": 1, "pass": 2}
    rows: list[ResultEntry | tuple[str, list[ResultEntry]]] = []
    skips: dict[str, list[ResultEntry]] = {}
    for result in sorted(results, key=lambda r: (order.get(r.status, 3), r.check.suite,
                                                 r.check.id)):
        if result.status == "skip":
            if result.check.suite not in skips:
                skips[result.check.suite] = []
                rows.append((result.check.suite, skips[result.check.suite]))
            skips[result.check.suite].append(result)
        else:
            rows.append(result)
    return rows


def counts_line(by_status: Mapping[str, int]) -> str:
    return ", ".join(f"{by_status.get(s, 0)} {s}" for s in ("fail", "error", "pass", "skip")
                     if by_status.get(s))
