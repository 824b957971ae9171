"""popcert diff: verdict and status changes, appeared/disappeared checks, regressions."""

from __future__ import annotations

from io import StringIO

from rich.console import Console

from harness.report.diff import ChangeKind, diff_reports, print_rich, render_text
from tests.unit.report.sample_report import certified_report, doc, sample_report


def test_fixing_a_system_shows_each_change() -> None:
    changes = diff_reports(doc(sample_report()), doc(certified_report()))
    assert changes[0].kind is ChangeKind.VERDICT
    assert (changes[0].old, changes[0].new) == ("NOT CERTIFIED", "CERTIFIED")
    moved = {c.check_id: (c.old, c.new) for c in changes[1:]}
    assert moved == {"AUTH-JWT-ALG-NONE": ("fail", "pass"), "CONF-SCHEMA-RESPONSES": ("error", "pass"),
                     "FW-DEFAULT-DENY": ("skip", "pass"), "SAST-HARDCODED-SECRET": ("fail", "pass")}
    assert not any(c.is_regression for c in changes)


def test_regressions_and_appearing_checks() -> None:
    old, new = certified_report(), sample_report()
    new["results"] = [r for r in new["results"] if r["check"]["id"] != "TLS-PROTOCOLS"]
    extra = dict(new["results"][0], check=dict(new["results"][0]["check"], id="AUTH-NEW-CHECK"))
    new["results"].append(extra)
    changes = {c.check_id: c for c in diff_reports(doc(old), doc(new))}
    assert changes[None].is_regression  # CERTIFIED -> NOT CERTIFIED
    assert changes["AUTH-JWT-ALG-NONE"].is_regression
    assert changes["TLS-PROTOCOLS"].kind is ChangeKind.DISAPPEARED
    assert changes["AUTH-NEW-CHECK"].kind is ChangeKind.APPEARED and changes["AUTH-NEW-CHECK"].is_regression
    text = render_text(list(changes.values()))
    assert "! verdict: CERTIFIED -> NOT CERTIFIED" in text
    assert "TLS-PROTOCOLS: no longer reported (was pass)" in text


def test_same_report_has_no_changes() -> None:
    assert diff_reports(doc(sample_report()), doc(sample_report())) == []
    assert render_text([]) == "no changes"


def test_rich_table_lists_changes() -> None:
    buffer = StringIO()
    print_rich(diff_reports(doc(sample_report()), doc(certified_report())), Console(file=buffer, width=140))
    out = buffer.getvalue()
    assert "AUTH-JWT-ALG-NONE" in out and "(verdict)" in out
