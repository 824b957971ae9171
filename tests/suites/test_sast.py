"""The SAST suite over the reference city system's source tree: compliant passes, each sast.* defect
fails exactly its check, the baseline accepts findings, bad settings and hostile files are handled.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from examples.city_system.source_tree import SAST_DEFECTS, source
from harness.checks import CheckResult, Status, checks_for_suite
from harness.suites import sast
from harness.suites.sast_bandit import run_bandit
from harness.suites.sast_files import inventory

EXPECTED_FAILURE = {"sast.verify_false": "SAST-BANDIT", "sast.hardcoded_secret": "SAST-SECRETS"}


def _run_all(ctx: sast.SastContext) -> dict[str, CheckResult]:
    return {c.id: c.function(ctx) for c in checks_for_suite("sast")}


def _failing(results: dict[str, CheckResult]) -> set[str]:
    return {k for k, r in results.items() if r.status != Status.PASS}


def _findings(result: CheckResult) -> list[dict[str, object]]:
    return [e.data for e in result.evidence if e.kind == "finding"]


def test_reference_source_passes_both_checks(tmp_path: Path) -> None:
    results = _run_all(sast.source_context(source(frozenset(), tmp_path)))
    assert _failing(results) == set(), {k: r.summary for k, r in results.items()}


@pytest.mark.parametrize("defect", sorted(EXPECTED_FAILURE))
def test_each_defect_fails_exactly_its_check(tmp_path: Path, defect: str) -> None:
    results = _run_all(sast.source_context(source(frozenset({defect}), tmp_path)))
    assert _failing(results) == {EXPECTED_FAILURE[defect]}
    failed = results[EXPECTED_FAILURE[defect]]
    assert failed.status == Status.FAIL
    for finding in _findings(failed):
        assert finding["location"] and isinstance(finding["line"], int)


def test_every_sast_check_declares_its_defect() -> None:
    declared = {d: c.id for c in checks_for_suite("sast") for d in c.defects}
    assert declared == EXPECTED_FAILURE and set(declared) == SAST_DEFECTS


def test_verify_false_finding_points_at_the_call(tmp_path: Path) -> None:
    root = source(frozenset({"sast.verify_false"}), tmp_path)
    result = _run_all(sast.source_context(root))["SAST-BANDIT"]
    [finding] = [f for f in _findings(result) if "accepted" not in f]
    assert finding["rule"] == "B501" and finding["location"] == "verify_false.py"
    line = (root / "verify_false.py").read_text().splitlines()[int(finding["line"]) - 1]
    assert "verify=False" in line


def test_secret_values_never_reach_the_evidence(tmp_path: Path) -> None:
    result = _run_all(sast.source_context(source(frozenset({"sast.hardcoded_secret"}), tmp_path)))
    dumped = json.dumps([e.to_json() for e in result["SAST-SECRETS"].evidence])
    assert "registry-admin" not in dumped
    assert {f["rule"] for f in _findings(result["SAST-SECRETS"])} == {"password-assignment",
                                                                      "private-key"}


def test_yaml_baseline_accepts_a_finding_with_its_reason(tmp_path: Path) -> None:
    root = source(frozenset({"sast.verify_false"}), tmp_path / "src")
    [finding] = _findings(_run_all(sast.source_context(root))["SAST-BANDIT"])
    baseline = tmp_path / "baseline.yaml"
    baseline.write_text(f"accepted:\n  - fingerprint: {finding['fingerprint']}\n"
                        "    reason: only used against the local registry stub\n")
    result = _run_all(sast.source_context(root, baseline))["SAST-BANDIT"]
    assert result.status == Status.PASS and "1 accepted" in result.summary
    assert _findings(result)[0]["accepted"] == "only used against the local registry stub"


def test_bandit_json_baseline_is_understood(tmp_path: Path) -> None:
    root = source(frozenset({"sast.verify_false"}), tmp_path / "src")
    [issue] = [f for f in run_bandit(inventory(root)).findings if f.rule == "B501"]
    report = {"results": [{"filename": f"./src/city_system/{issue.relative}", "test_id": issue.rule,
                           "issue_text": issue.message, "issue_severity": "HIGH",
                           "issue_confidence": "HIGH", "line_number": 99}]}
    baseline = tmp_path / "bandit-baseline.json"
    baseline.write_text(json.dumps(report))
    assert _run_all(sast.source_context(root, baseline))["SAST-BANDIT"].status == Status.PASS


def test_baseline_without_reason_is_a_config_error(tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.yaml"
    baseline.write_text("accepted:\n  - fingerprint: 0123456789abcdef\n")
    results = _run_all(sast.source_context(source(frozenset(), tmp_path), baseline))
    assert {r.status for r in results.values()} == {Status.ERROR}
    assert "reason" in results["SAST-BANDIT"].summary


def test_missing_source_path_is_an_error_naming_the_field(tmp_path: Path) -> None:
    results = _run_all(sast.source_context(tmp_path / "nowhere"))
    assert {r.status for r in results.values()} == {Status.ERROR}
    assert "source.path" in results["SAST-BANDIT"].summary
    assert "does not exist" in results["SAST-SECRETS"].summary


def test_thresholds_from_the_profile_change_what_counts(tmp_path: Path) -> None:
    root = source(frozenset({"sast.hardcoded_secret"}), tmp_path)
    # B105 (hard-coded password string) is low severity: invisible at medium, a failure at low.
    assert _run_all(sast.source_context(root))["SAST-BANDIT"].status == Status.PASS
    strict = sast.source_context(root, min_severity="low", min_confidence="low")
    assert _run_all(strict)["SAST-BANDIT"].status == Status.FAIL
    assert sast.source_context(root, min_severity="severe").problem is not None


def test_huge_binary_and_broken_files_do_not_crash_the_scan(tmp_path: Path) -> None:
    root = source(frozenset(), tmp_path)
    (root / "blob.py").write_bytes(b"\x00\x01\x02" * 1000)
    (root / "huge.py").write_text("x = 1\n" * 400_000)  # 2.4 MB
    (root / "broken.py").write_text("def (:\n")
    (root / "latin1.py").write_bytes("name = 'Nguy\xe1n'\n".encode("latin-1"))
    results = _run_all(sast.source_context(root))
    assert _failing(results) == set()
    notes = " ".join(e.data["text"] for e in results["SAST-BANDIT"].evidence if e.kind == "note")
    assert "blob.py (binary file)" in notes and "huge.py" in notes and "broken.py" in notes


def test_suite_context_reads_config_and_profile(tmp_path: Path) -> None:
    from harness.config import config_from_dict
    from harness.net import ScopeGuard
    from harness.profiles import Profile
    from harness.suites.base import SUITE_CONTEXTS, RunContext

    root = source(frozenset({"sast.hardcoded_secret"}), tmp_path)
    config = config_from_dict({
        "system": {"name": "city", "organisation": "test", "level": "province"},
        "target": {"base_url": "https://127.0.0.1:8443"}, "source": {"path": str(root)}}, tmp_path)
    profile = Profile(name="t", version="1", title_vi="t", title_en="t", mandatory=["SAST-*"],
                      thresholds={"sast": {"min_severity": "low", "min_confidence": "low"}})
    run = RunContext(config, profile, tmp_path, ScopeGuard(["127.0.0.1"]), tmp_path)
    factory = SUITE_CONTEXTS["sast"](run)
    ctx = next(factory)
    factory.close()
    assert (ctx.source_path, ctx.min_severity) == (root, "low")
    assert _failing(_run_all(ctx)) == {"SAST-BANDIT", "SAST-SECRETS"}
