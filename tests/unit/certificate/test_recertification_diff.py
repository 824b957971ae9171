"""Re-certification: `popcert diff` between the certified run and a new one flags a changed
firewall ruleset, source tree or spec, even when every check still passes."""

from __future__ import annotations

import copy
from io import StringIO

from rich.console import Console
from typer.testing import CliRunner

from harness.commands.main import app
from harness.report.diff import ChangeKind, diff_reports, print_rich, render_text
from tests.unit.certificate.conftest import Lab, certified
from tests.unit.report.sample_report import doc


def test_unchanged_inputs_give_no_changes() -> None:
    assert diff_reports(doc(certified()), doc(certified())) == []


def test_changed_ruleset_source_and_spec_are_flagged() -> None:
    old, new = certified(), certified()
    new["run"]["fingerprints"]["firewall_ruleset"] = "sha256:" + "c" * 64
    new["run"]["fingerprints"]["source_tree"] = "sha256:" + "d" * 64
    new["specs"] = copy.deepcopy(new["specs"])
    new["specs"]["connection"] = {"version": "v2", "sha256": "e" * 64}
    changes = {c.check_id: c for c in diff_reports(doc(old), doc(new))}
    assert set(changes) == {"firewall ruleset", "source tree", "spec connection"}
    assert changes["firewall ruleset"].kind is ChangeKind.FINGERPRINT
    assert changes["spec connection"].kind is ChangeKind.SPEC
    assert changes["spec connection"].new.startswith("v2 ")
    assert all(c.needs_recertification and not c.is_regression for c in changes.values())
    text = render_text(list(changes.values()))
    assert "~ firewall ruleset changed: sha256:aaaa" in text and "(re-certify)" in text
    buffer = StringIO()
    print_rich(list(changes.values()), Console(file=buffer, width=200))
    assert "fingerprint_changed" in buffer.getvalue() and "spec_changed" in buffer.getvalue()


def test_a_report_from_before_fingerprints_shows_them_appearing() -> None:
    old, new = certified(fingerprints=False), certified()
    kinds = {c.check_id: (c.kind, c.old) for c in diff_reports(doc(old), doc(new))}
    assert kinds == {"firewall ruleset": (ChangeKind.FINGERPRINT, None),
                     "source tree": (ChangeKind.FINGERPRINT, None)}


def test_diff_command_prints_the_changed_fingerprint(lab: Lab) -> None:
    old = lab.report(certified(), name="certified", sign=False)
    changed = certified()
    changed["run"]["fingerprints"]["source_tree"] = "sha256:" + "f" * 64
    new = lab.report(changed, name="new", sign=False)
    result = CliRunner().invoke(app, ["diff", str(old), str(new), "--plain"])
    assert result.exit_code == 0, result.output  # no check regressed
    assert "source tree changed" in result.output and "re-certify" in result.output
