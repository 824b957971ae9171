"""A report edited after its run never verifies, is never signed and never certified (issue 21).

The attack: take a NOT CERTIFIED report, delete the failing results (and their ids from
run.registered_checks, or write ``results: []`` with one made-up id), mark the verdict CERTIFIED.
The verdict used to re-derive over the report's own list of checks, so it re-derived as CERTIFIED,
`popcert sign` signed it, `popcert verify` said VALID and `certificate issue` issued a certificate
for 0 checks. Now the verdict is re-derived over popcert's own registry and profile, every
registered check must have its result, and the results carry a digest chain (results.jsonl's too).

Each attack is tried three ways: `popcert verify` on the report signed anyway (as any Ed25519 tool
would sign it: exit 1, INVALID with the reason), `popcert sign` (exit 2, not signed) and
`certificate issue` (exit 2, no certificate, nothing in the registry).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from harness.commands.main import app
from harness.report.chain import CHAIN_FIELD, GENESIS, chain_of, core_of_json, link
from harness.signing.canonical import canonical_json
from tests.unit.certificate.conftest import Lab, certified, not_certified
from tests.unit.report.sample_report import as_run_wrote_it, sign_unchecked

runner = CliRunner()
CERTIFIED = {"status": "CERTIFIED", "reasons": [], "blocking": []}


def _popcert(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def _deleted_failures(report: dict[str, Any]) -> dict[str, Any]:
    """The failing results deleted and the verdict set to CERTIFIED (the chain left as it was)."""
    report["results"] = [r for r in report["results"] if r["status"] != "fail"]
    report["verdict"] = dict(CERTIFIED)
    return report


def _trimmed_and_rechained(report: dict[str, Any]) -> dict[str, Any]:
    """The failing results deleted, their ids trimmed from run.registered_checks, the chain
    recomputed over what is left: only popcert's own registry shows what is missing."""
    failed = {r["check"]["id"] for r in report["results"] if r["status"] == "fail"}
    _deleted_failures(report)
    report["run"]["registered_checks"] = [c for c in report["run"]["registered_checks"]
                                          if c not in failed]
    report["run"]["results_chain"] = chain_of(core_of_json(r) for r in report["results"]).to_json()
    return report


def _made_up(report: dict[str, Any]) -> dict[str, Any]:
    """`results: []` but one made-up passing check, registered_checks naming only it."""
    made_up = json.loads(json.dumps(report["results"][0]))
    made_up["check"]["id"], made_up["status"] = "AUTH-MADE-UP", "pass"
    report["results"] = [made_up]
    report["run"]["registered_checks"] = ["AUTH-MADE-UP"]
    report["run"]["results_chain"] = chain_of([core_of_json(made_up)]).to_json()
    report["verdict"] = dict(CERTIFIED)
    return report


def _failure_edited_to_pass(report: dict[str, Any]) -> dict[str, Any]:
    """No result deleted: the failing one rewritten as passed, the verdict re-derived to match.
    Coverage and verdict hold; only the results' digest chain shows the edit."""
    for result in report["results"]:
        if result["status"] == "fail":
            result["status"], result["summary"] = "pass", "passed"
    report["verdict"] = dict(CERTIFIED)
    return report


ATTACKS: dict[str, tuple[Callable[[dict[str, Any]], dict[str, Any]], str]] = {
    "failing results deleted": (_deleted_failures, "have no result"),
    "registered_checks trimmed, chain recomputed": (_trimmed_and_rechained,
                                                    "run.registered_checks lacks"),
    "results: [] and one made-up id": (_made_up, "does not register"),
    "a failure edited to pass": (_failure_edited_to_pass, "results digest chain broken"),
}


def _attacked(lab: Lab, name: str) -> Path:
    edit, _ = ATTACKS[name]
    path = lab.report(edit(not_certified()), name=name.replace(" ", "-").replace(":", ""),
                      sign=False)
    return path


@pytest.mark.parametrize("name", list(ATTACKS))
def test_an_edited_report_signed_anyway_is_invalid(lab: Lab, name: str) -> None:
    path = _attacked(lab, name)
    sign_unchecked(path, lab.key)
    code, out = _popcert("verify", str(path))
    assert code == 1, out
    assert out.startswith("INVALID") and ATTACKS[name][1] in out, out


@pytest.mark.parametrize("name", list(ATTACKS))
def test_popcert_sign_refuses_an_edited_report(lab: Lab, name: str) -> None:
    path = _attacked(lab, name)
    code, out = _popcert("sign", str(path), "--key", str(lab.key))
    assert code == 2, out
    assert "not signed" in out and ATTACKS[name][1] in out, out
    assert not path.with_name("report.json.sig").exists()


@pytest.mark.parametrize("name", list(ATTACKS))
def test_certificate_issue_refuses_an_edited_report(lab: Lab, name: str) -> None:
    path = _attacked(lab, name)
    sign_unchecked(path, lab.key)
    code, out = _popcert("certificate", "issue", str(path), "--key", str(lab.key),
                         "--assessor", "A")
    assert code == 2, out
    assert "does not verify" in out and ATTACKS[name][1] in out, out
    assert lab.registry.certificates() == [] and lab.registry.log() == []


def test_the_untouched_report_verifies_and_is_certified(lab: Lab) -> None:
    """The control: the same fixture, not edited, signs, verifies and gets its certificate."""
    path = lab.report(certified(), sign=False)
    assert _popcert("sign", str(path), "--key", str(lab.key))[0] == 0
    code, out = _popcert("verify", str(path))
    assert code == 0 and "VALID" in out, out
    code, out = _popcert("certificate", "issue", str(path), "--key", str(lab.key),
                         "--assessor", "A")
    assert code == 0, out


def _results_jsonl(report: dict[str, Any]) -> str:
    """results.jsonl as the engine writes it for these results: each line carries its link."""
    lines, head = [], GENESIS
    for result in report["results"]:
        head = link(head, core_of_json(result))
        line = {key: result[key] for key in result if key != "waiver"}
        lines.append(json.dumps({**line, CHAIN_FIELD: head}, ensure_ascii=False))
    return "\n".join(lines) + "\n"


def test_results_jsonl_beside_the_report_shows_a_result_deleted_and_rechained(lab: Lab) -> None:
    """The attacker recomputes run.results_chain after deleting an advisory result (the verdict
    does not change), but results.jsonl beside the report still ends at the run's last link."""
    original = certified()
    path = lab.report(original, sign=False)
    path.with_name("results.jsonl").write_text(_results_jsonl(original), encoding="utf-8")
    assert _popcert("sign", str(path), "--key", str(lab.key))[0] == 0  # the run's own report
    edited = json.loads(path.read_bytes())
    advisory = next(r for r in edited["results"] if not r["mandatory"])
    edited["results"].remove(advisory)
    edited["run"]["results_chain"] = chain_of(core_of_json(r) for r in edited["results"]).to_json()
    path.write_bytes(canonical_json(edited))
    code, out = _popcert("sign", str(path), "--key", str(lab.key))
    assert code == 2 and "results.jsonl beside the report ends at result" in out, out


def test_a_quick_report_without_its_banner_or_called_full_is_invalid(lab: Lab) -> None:
    quick = certified()
    quick["run"]["quick"], quick["run"]["mode"] = True, "quick"
    as_run_wrote_it(quick)
    assert quick["banner"]["en"] == "DEMO / QUICK RUN: not a certification"
    unbannered = json.loads(json.dumps(quick))
    del unbannered["banner"]
    called_full = json.loads(json.dumps(quick))
    called_full["run"]["mode"] = "full"
    for name, report, reason in (("unbannered", unbannered, "lacks its banner"),
                                 ("called-full", called_full, "run.quick is true but run.mode")):
        path = lab.report(report, name=name, sign=False)
        code, out = _popcert("sign", str(path), "--key", str(lab.key))
        assert code == 2 and reason in out, out
