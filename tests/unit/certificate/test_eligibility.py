"""A certificate only from a full run at the profile's level of a vendor's system (issue 21).

`popcert certificate issue` used to accept `popcert demo`'s report: a --quick run with 8 s of
load, of the bundled reference system on 127.0.0.1, with the shipped example attestations signed
"Demo assessor". Each refusal is tried here on an otherwise certifiable, signed, verifying report
(the `certified()` fixture: a full run of a deployed system), through the command line: exit 2,
the reason and its fix named, nothing written to the registry.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from harness.certificate.eligibility import lab_target, reference_fingerprints
from harness.commands.main import app
from tests.unit.certificate.conftest import Lab, certified
from tests.unit.report.sample_report import as_run_wrote_it

runner = CliRunner()


def _issue(lab: Lab, report: dict[str, Any], *extra: str) -> tuple[int, str]:
    path = lab.report(report)
    result = runner.invoke(app, ["certificate", "issue", str(path), "--key", str(lab.key),
                                 "--assessor", "Lê Văn C", *extra])
    return result.exit_code, result.output


def _quick(report: dict[str, Any]) -> dict[str, Any]:
    report["run"]["quick"], report["run"]["mode"] = True, "quick"
    report["run"]["load_duration_s"] = 8.0
    return as_run_wrote_it(report)


def _demo(report: dict[str, Any]) -> dict[str, Any]:
    report["run"]["mode"] = "demo"
    return as_run_wrote_it(report)


def _short_load(report: dict[str, Any]) -> dict[str, Any]:
    report["run"]["load_duration_s"] = 8.0  # full mode, but run.yaml or an old profile cut it
    return report


def _reference_name(report: dict[str, Any]) -> dict[str, Any]:
    report["system"]["name"], report["system"]["organisation"] = ("Reference city system",
                                                                  "popcert (example)")
    return report


def _reference_source(report: dict[str, Any]) -> dict[str, Any]:
    """Renamed, but its source tree is the one popcert ships as the reference system."""
    source, _ = reference_fingerprints()
    assert source is not None
    report["run"]["fingerprints"]["source_tree"] = source
    return report


def _reference_ruleset(report: dict[str, Any]) -> dict[str, Any]:
    _, rulesets = reference_fingerprints()
    report["run"]["fingerprints"]["firewall_ruleset"] = min(rulesets)
    return report


def _example_attestations(report: dict[str, Any]) -> dict[str, Any]:
    report["run"]["example_inputs"] = ["attestations"]
    return report


def _copied_attestation(report: dict[str, Any]) -> dict[str, Any]:
    """The `example:` mark removed, the shipped example's words kept."""
    from harness.assessor import load_attestations
    from harness.resources import data_path

    shipped = load_attestations(data_path("examples", "assessor", "attestations.yaml"))[0]
    entry = next(a for a in report["attestations"] if a["item_id"] == shipped.item_id)
    entry["assessor"], entry["statement"] = shipped.assessor, shipped.statement
    return report


def _copied_waiver(report: dict[str, Any]) -> dict[str, Any]:
    from harness.assessor import load_waivers
    from harness.resources import data_path

    shipped = load_waivers(data_path("examples", "assessor", "waivers.yaml"))[0]
    result = next(r for r in report["results"] if r["check"]["id"] == shipped.check_id)
    result["waiver"] = {"check_id": shipped.check_id, "reason": shipped.reason,
                        "assessor": shipped.assessor, "approved_on": "2025-03-01",
                        "expires": "2025-06-30", "valid": True}
    return report


def _loopback(report: dict[str, Any]) -> dict[str, Any]:
    report["system"]["base_url"] = "https://127.0.0.1:8443"
    return report


REFUSED: dict[str, tuple[Callable[[dict[str, Any]], dict[str, Any]], tuple[str, ...]]] = {
    "quick": (_quick, ("--quick run", "without --quick")),
    "demo": (_demo, ("`popcert demo` run", "without --quick")),
    "short load": (_short_load, ("load test ran 8 seconds", "thresholds.load.duration_s of 20")),
    "reference by name": (_reference_name, ("bundled reference city system (its name",
                                            "point run.yaml's target")),
    "reference by source": (_reference_source, ("(its source tree fingerprint",)),
    "reference by ruleset": (_reference_ruleset, ("(its firewall ruleset fingerprint",)),
    "example attestations": (_example_attestations, ("marked as popcert's shipped example",
                                                     "assessor.attestations")),
    "copied attestation": (_copied_attestation, ("copied from popcert's shipped examples",)),
    "copied waiver": (_copied_waiver, ("waivers of LOAD-LATENCY-P99 are copied",)),
    "loopback target": (_loopback, ("127.0.0.1 is a loopback address", "--allow-lab-target")),
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_issue_refuses_naming_the_reason_and_the_fix(lab: Lab, name: str) -> None:
    edit, words = REFUSED[name]
    code, out = _issue(lab, edit(certified()))
    assert code == 2, out
    assert "no certificate issued" in out
    for word in words:
        assert word in out, (word, out)
    assert lab.registry.certificates() == [] and lab.registry.log() == []


@pytest.mark.parametrize("name", ["quick", "demo", "reference by name", "example attestations"])
def test_allow_lab_target_does_not_lift_any_other_refusal(lab: Lab, name: str) -> None:
    edit, words = REFUSED[name]
    code, out = _issue(lab, _loopback(edit(certified())), "--allow-lab-target", "vendor lab")
    assert code == 2 and words[0] in out, out


@pytest.mark.parametrize("url, why", [
    ("https://127.0.0.1:8443", "loopback"), ("https://127.8.9.10", "loopback"),
    ("https://[::1]:8443", "loopback"), ("https://localhost:8443", "local machine"),
    ("https://api.localhost", "local machine"), ("https://169.254.10.20", "link-local"),
    ("https://[fe80::1]:443", "link-local"), ("https://[::ffff:127.0.0.1]", "loopback"),
    ("https://0.0.0.0", "unspecified"),
])
def test_lab_targets_are_loopback_link_local_or_local_names(url: str, why: str) -> None:
    reason = lab_target(url)
    assert reason is not None and why in reason


@pytest.mark.parametrize("url", ["https://tthc.hanoi.example", "https://10.20.30.40:8443",
                                 "https://[2001:db8::5]", "https://203.0.113.7"])
def test_deployed_targets_are_not_lab_targets(url: str) -> None:
    assert lab_target(url) is None


def test_a_lab_target_with_a_reason_is_certified_and_the_reason_recorded(lab: Lab) -> None:
    code, out = _issue(lab, _loopback(certified()), "--allow-lab-target",
                       "vendor's isolated pre-production lab, same build as production")
    assert code == 0, out
    assert "lab target:  127.0.0.1 is a loopback address" in out
    document = json.loads((lab.root / "run" / "certificate.json").read_bytes())
    assert document["lab_target"] == {
        "reason": "vendor's isolated pre-production lab, same build as production",
        "why": "127.0.0.1 is a loopback address", "option": "--allow-lab-target"}
    page = (lab.root / "run" / "certificate.html").read_text(encoding="utf-8")
    assert "127.0.0.1 is a loopback address — vendor&#39;s isolated pre-production lab" in page


def test_a_lab_target_needs_a_reason(lab: Lab) -> None:
    code, out = _issue(lab, _loopback(certified()), "--allow-lab-target", "  ")
    assert code == 2 and "--allow-lab-target needs a reason" in out, out


def test_the_certificate_records_the_run_it_stands_on(lab: Lab) -> None:
    report = certified()
    code, out = _issue(lab, report)
    assert code == 0, out
    document = json.loads((lab.root / "run" / "certificate.json").read_bytes())
    assert document["run"] == {
        "mode": "full", "quick": False, "seed": report["run"]["seed"], "load_duration_s": 20.0,
        "results": len(report["results"]),
        "results_chain_head": report["run"]["results_chain"]["head"]}
    assert document["profile"]["name"] == "district" and document["profile"]["version"] == "1.0"
    assert document["harness"]["version"] == report["harness"]["version"]
    assert document["specs"] == report["specs"]  # {name: {version, sha256}}
    assert "lab_target" not in document


def test_the_shipped_example_files_are_marked_as_examples() -> None:
    from harness.assessor import is_example_file
    from harness.checklist import city_system_dir
    from harness.resources import data_path

    for path in (data_path("examples", "assessor", "attestations.yaml"),
                 data_path("examples", "assessor", "waivers.yaml"),
                 city_system_dir() / "attestations.yaml"):
        assert is_example_file(path), path


def test_an_assessors_own_file_is_not_an_example(tmp_path: Path) -> None:
    from harness.assessor import is_example_file, load_attestations

    own = tmp_path / "attestations.yaml"
    own.write_text("attestations:\n  - item_id: connection-plan\n    assessor: Nguyễn Văn D\n"
                   "    date: 2026-01-05\n    statement: Reviewed plan v2 on site.\n",
                   encoding="utf-8")
    assert not is_example_file(own) and len(load_attestations(own)) == 1
