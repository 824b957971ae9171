"""The SAST suite over the reference city system's source tree: compliant passes, each sast.* defect
fails exactly its checks, the baseline accepts findings, bad settings and hostile files are handled,
and a vendor cannot dodge the scan by file size, folder name or symlink.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.checks import CheckResult, Status, SuiteUnavailable
from harness.registry import default_registry
from harness.suites.sast import context as sast
from harness.suites.sast.bandit import analyse_python
from harness.suites.sast.files import inventory
from popcert_city.source_tree import SAST_DEFECTS, source

SAST_CHECKS = default_registry().for_suite("sast")
# defect switch -> the checks it must fail, as the checks declare it: requests.get(verify=False)
# is bandit's B501 and popcert's TLS rule; session.post(verify=False) on a Session built in a
# helper is popcert's TLS rule alone (the two tests below the defect test pin that down).
EXPECTED_FAILURE = {d: {c.id for c in SAST_CHECKS if d in c.defects} for d in sorted(SAST_DEFECTS)}


def _run_all(ctx: sast.SastContext) -> dict[str, CheckResult]:
    return {c.id: c.function(ctx) for c in SAST_CHECKS}


def _failing(results: dict[str, CheckResult]) -> set[str]:
    return {k for k, r in results.items() if r.status != Status.PASS}


def _findings(result: CheckResult) -> list[dict[str, object]]:
    return [e.data for e in result.evidence if e.kind == "finding"]


def test_reference_source_passes_every_check(tmp_path: Path) -> None:
    results = _run_all(sast.source_context(source(frozenset(), tmp_path)))
    assert _failing(results) == set(), {k: r.summary for k, r in results.items()}


@pytest.mark.parametrize("defect", sorted(EXPECTED_FAILURE))
def test_each_defect_fails_exactly_its_check(tmp_path: Path, defect: str) -> None:
    results = _run_all(sast.source_context(source(frozenset({defect}), tmp_path)))
    assert _failing(results) == EXPECTED_FAILURE[defect]
    for check_id in EXPECTED_FAILURE[defect]:
        failed = results[check_id]
        assert failed.status == Status.FAIL
        assert _findings(failed)
        for finding in _findings(failed):
            assert finding["location"] and isinstance(finding["line"], int)


def test_every_sast_check_declares_its_defect() -> None:
    assert [c.id for c in SAST_CHECKS] == ["SAST-BANDIT", "SAST-TLS-VERIFY", "SAST-SECRETS"]
    assert all(c.defects and set(c.defects) <= SAST_DEFECTS for c in SAST_CHECKS)
    assert all(EXPECTED_FAILURE.values())  # every switch of the city system breaks a check


def test_verify_false_finding_points_at_the_call(tmp_path: Path) -> None:
    root = source(frozenset({"sast.verify_false"}), tmp_path)
    result = _run_all(sast.source_context(root))["SAST-BANDIT"]
    [finding] = [f for f in _findings(result) if "accepted" not in f]
    assert finding["rule"] == "B501" and finding["location"] == "verify_false.py"
    line = (root / "verify_false.py").read_text().splitlines()[int(finding["line"]) - 1]
    assert "verify=False" in line


def test_session_built_in_a_helper_is_caught_by_the_tls_rule_only(tmp_path: Path) -> None:
    root = source(frozenset({"sast.tls_verify_session"}), tmp_path)
    results = _run_all(sast.source_context(root))
    assert results["SAST-BANDIT"].status == Status.PASS  # bandit's B501 does not see it
    [finding] = _findings(results["SAST-TLS-VERIFY"])
    assert (finding["location"], finding["rule"]) == ("tls_verify_session.py",
                                                      "tls-verify-disabled")
    line = (root / "tls_verify_session.py").read_text().splitlines()[int(finding["line"]) - 1]
    assert "session.post(" in line and "verify=False" in line


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
    [issue] = [f for f in analyse_python(inventory(root)).bandit if f.rule == "B501"]
    report = {"results": [{"filename": f"./src/city_system/{issue.relative}", "test_id": issue.rule,
                           "issue_text": issue.message, "issue_severity": "HIGH",
                           "issue_confidence": "HIGH", "line_number": 99}]}
    baseline = tmp_path / "bandit-baseline.json"
    baseline.write_text(json.dumps(report))
    assert _run_all(sast.source_context(root, baseline))["SAST-BANDIT"].status == Status.PASS


# A setting that stops the suite raises SuiteUnavailable; the engine records its summary as
# `error` on every SAST check (tests/unit/test_engine.py).

def test_baseline_without_reason_is_a_config_error(tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.yaml"
    baseline.write_text("accepted:\n  - fingerprint: 0123456789abcdef\n")
    with pytest.raises(SuiteUnavailable) as unavailable:
        sast.source_context(source(frozenset(), tmp_path), baseline)
    assert "reason" in unavailable.value.summary


def test_exclusion_without_reason_is_a_config_error(tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.yaml"
    baseline.write_text("excluded:\n  - path: .venv/*\n")
    with pytest.raises(SuiteUnavailable) as unavailable:
        sast.source_context(source(frozenset(), tmp_path), baseline)
    assert "reason" in unavailable.value.summary


def test_missing_source_path_is_an_error_naming_the_field(tmp_path: Path) -> None:
    with pytest.raises(SuiteUnavailable) as unavailable:
        sast.source_context(tmp_path / "nowhere")
    assert "source.path" in unavailable.value.summary
    assert "does not exist" in unavailable.value.summary


def test_thresholds_from_the_profile_change_what_counts(tmp_path: Path) -> None:
    root = source(frozenset({"sast.hardcoded_secret"}), tmp_path)
    # B105 (hard-coded password string) is low severity: invisible at medium, a failure at low.
    assert _run_all(sast.source_context(root))["SAST-BANDIT"].status == Status.PASS
    strict = sast.source_context(root, min_severity="low", min_confidence="low")
    assert _run_all(strict)["SAST-BANDIT"].status == Status.FAIL
    with pytest.raises(SuiteUnavailable, match="thresholds.sast.min_severity"):
        sast.source_context(root, min_severity="severe")


def _generated_table(rows: int) -> str:
    """Generated Python of ~210 bytes a row (a data table): over the old 2,000,000-byte per-file
    cap from 9,700 rows. Size is what the inventory and the batching judge; with three AST nodes a
    line the file parses in about a second of CPU, where 2 MB of one-line functions or `x = 1`
    needs 12-40 s against the 90 s analysis budget (test_analysis_budget_spent_is_listed_not_fatal
    covers a file the budget cannot finish)."""
    return "".join(f'ROW_{i} = "Row {i}: {"of the generated table " * 8}"\n' for i in range(rows))


def test_huge_binary_and_broken_files_do_not_crash_the_scan(tmp_path: Path) -> None:
    root = source(frozenset(), tmp_path)
    (root / "blob.py").write_bytes(b"\x00\x01\x02" * 1000)
    (root / "huge.py").write_text(_generated_table(11_000))  # 2.3 MB
    (root / "broken.py").write_text("def (:\n")
    (root / "latin1.py").write_bytes("name = 'Nguy\xe1n'\n".encode("latin-1"))
    results = _run_all(sast.source_context(root))
    # Python files no check could read fail (a vendor must not pass by breaking a file), with
    # each listed; the large one is analysed, not skipped.
    assert _failing(results) == {"SAST-BANDIT", "SAST-TLS-VERIFY", "SAST-SECRETS"}
    assert {r.status for r in results.values()} == {Status.FAIL}
    notes = " ".join(e.data["text"] for e in results["SAST-BANDIT"].evidence if e.kind == "note")
    assert "blob.py (binary file)" in notes and "broken.py" in notes
    assert "latin1.py" in notes  # not UTF-8 and no coding line: Python cannot run it either
    assert "huge.py" not in notes
    assert "blob.py" in results["SAST-SECRETS"].summary  # unreadable as text: secrets too
    baseline = tmp_path / "baseline.yaml"
    baseline.write_text("excluded:\n  - path: blob.py\n    reason: test data, not code\n"
                        "  - path: broken.py\n    reason: Python 2 leftover, never run\n"
                        "  - path: latin1.py\n    reason: Python 2 leftover, never run\n")
    excused = _run_all(sast.source_context(root, baseline))
    assert _failing(excused) == set(), {k: r.summary for k, r in excused.items()}
    notes = " ".join(e.data["text"] for e in excused["SAST-BANDIT"].evidence if e.kind == "note")
    assert "Python 2 leftover, never run" in notes


def test_suite_context_reads_config_and_profile(tmp_path: Path) -> None:
    from harness.config import config_from_dict
    from harness.net import ScopeGuard
    from harness.profiles import Profile
    from harness.run_context import RunContext

    root = source(frozenset({"sast.hardcoded_secret"}), tmp_path)
    config = config_from_dict({
        "system": {"name": "city", "organisation": "test", "level": "province"},
        "target": {"base_url": "https://127.0.0.1:8443"}, "source": {"path": str(root)}}, tmp_path)
    profile = Profile(name="t", version="1", title_vi="t", title_en="t", mandatory=["SAST-*"],
                      thresholds={"sast": {"min_severity": "low", "min_confidence": "low"}})
    run = RunContext(config, profile, tmp_path, ScopeGuard(["127.0.0.1"]), tmp_path)
    suite = default_registry().suite("sast")
    assert suite is not None
    factory = suite.context(run)
    ctx = next(factory)
    factory.close()
    assert (ctx.source_path, ctx.min_severity) == (root, "low")
    assert _failing(_run_all(ctx)) == {"SAST-BANDIT", "SAST-SECRETS"}


def test_suite_without_source_path_cannot_start(tmp_path: Path) -> None:
    from harness.config import config_from_dict
    from harness.net import ScopeGuard
    from harness.profiles import Profile
    from harness.run_context import RunContext

    config = config_from_dict({
        "system": {"name": "city", "organisation": "test", "level": "province"},
        "target": {"base_url": "https://127.0.0.1:8443"}}, tmp_path)
    profile = Profile(name="t", version="1", title_vi="t", title_en="t", mandatory=["SAST-*"])
    run = RunContext(config, profile, tmp_path, ScopeGuard(["127.0.0.1"]), tmp_path)
    suite = default_registry().suite("sast")
    assert suite is not None
    with pytest.raises(SuiteUnavailable) as unavailable:
        next(suite.context(run))
    assert "source.path" in unavailable.value.summary and "not set" in unavailable.value.summary


# --- dodges: what a vendor could do to pass without fixing anything -----------------------------

DODGE_LINES = ('import subprocess\nimport requests\n\n'
               'def fetch(url, cmd):\n'
               '    subprocess.call(cmd, shell=True)\n'
               '    return requests.get(url, verify=False, timeout=5)\n\n'
               'REGISTRY_PASSWORD = "Hn2024!dodge-admin"\n')


def _dodge_tree(tmp_path: Path) -> tuple[Path, Path]:
    """The compliant reference source plus the issue's dodges, and a folder outside it."""
    root = source(frozenset(), tmp_path / "src")
    (root / "generated.py").write_text(_generated_table(10_000) + DODGE_LINES)  # 2.1 MB
    for folder in ("build/lib/city_system", "dist"):
        (root / folder).mkdir(parents=True)
        (root / folder / "legacy.py").write_text(DODGE_LINES)
    (root / "hidden").mkdir()
    (root / "hidden" / "impl.txt").write_text(DODGE_LINES)
    (root / "registry_client.py").symlink_to(root / "hidden" / "impl.txt")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "helpers.py").write_text(DODGE_LINES)
    (root / "helpers.py").symlink_to(outside / "helpers.py")
    return root, outside


DodgeRun = tuple[Path, dict[str, CheckResult], sast.SastContext]


@pytest.fixture(scope="module")
def dodge_results(tmp_path_factory: pytest.TempPathFactory) -> DodgeRun:
    root, _ = _dodge_tree(tmp_path_factory.mktemp("dodges"))
    ctx = sast.source_context(root)
    return root, _run_all(ctx), ctx


def _located(result: CheckResult) -> set[str]:
    return {str(f["location"]) for f in _findings(result)}


def test_large_python_file_is_analysed_not_skipped(dodge_results: DodgeRun) -> None:
    root, results, _ = dodge_results
    assert (root / "generated.py").stat().st_size > 2_000_000
    for check_id in ("SAST-BANDIT", "SAST-TLS-VERIFY", "SAST-SECRETS"):
        assert "generated.py" in _located(results[check_id]), check_id
    rules = {f["rule"] for f in _findings(results["SAST-BANDIT"]) if f["location"] == "generated.py"}
    assert {"B501", "B602"} <= rules  # verify=False and shell=True


def test_build_and_dist_folders_are_vendor_code(dodge_results: DodgeRun) -> None:
    _, results, _ = dodge_results
    for check_id in ("SAST-BANDIT", "SAST-TLS-VERIFY", "SAST-SECRETS"):
        assert {"build/lib/city_system/legacy.py", "dist/legacy.py"} <= _located(
            results[check_id]), check_id


def test_a_symlinked_python_file_is_analysed_once_at_its_target(
        dodge_results: DodgeRun) -> None:
    _, results, _ = dodge_results
    # registry_client.py -> hidden/impl.txt: Python imports the link, so the text file is Python.
    b501 = [f for f in _findings(results["SAST-BANDIT"]) if f["rule"] == "B501"]
    assert [f["location"] for f in b501].count("hidden/impl.txt") == 1
    assert not any(str(f["location"]).startswith("registry_client") for f in b501)
    assert "hidden/impl.txt" in _located(results["SAST-SECRETS"])


def test_a_symlink_out_of_the_tree_is_listed_not_followed_and_fails(
        dodge_results: DodgeRun) -> None:
    _, results, _ = dodge_results
    for result in results.values():
        assert result.status == Status.FAIL
        assert not any("outside" in str(f["location"]) for f in _findings(result))
        notes = " ".join(e.data["text"] for e in result.evidence if e.kind == "note")
        assert "helpers.py (symlink to outside the source tree, not followed)" in notes


def test_the_dodges_alone_fail_the_checks_without_findings_of_the_reference(
        tmp_path: Path) -> None:
    """Only the outside link left: nothing to find, yet the checks fail until the baseline says why."""
    root = source(frozenset(), tmp_path / "src")
    outside = tmp_path / "elsewhere.py"
    outside.write_text(DODGE_LINES)
    (root / "vendored.py").symlink_to(outside)
    results = _run_all(sast.source_context(root))
    assert _failing(results) == {"SAST-BANDIT", "SAST-TLS-VERIFY", "SAST-SECRETS"}
    assert "vendored.py" in results["SAST-BANDIT"].summary
    baseline = tmp_path / "baseline.yaml"
    baseline.write_text("excluded:\n  - path: vendored.py\n"
                        "    reason: reviewed separately as part of the shared library\n")
    assert _failing(_run_all(sast.source_context(root, baseline))) == set()


def test_third_party_environment_must_be_excluded_knowingly(tmp_path: Path) -> None:
    root = source(frozenset(), tmp_path / "src")
    (root / ".venv" / "lib").mkdir(parents=True)
    (root / ".venv" / "lib" / "evil.py").write_text(DODGE_LINES)
    results = _run_all(sast.source_context(root))
    assert results["SAST-BANDIT"].status == Status.FAIL
    assert ".venv/" in results["SAST-BANDIT"].summary
    baseline = tmp_path / "baseline.yaml"
    baseline.write_text("excluded:\n  - path: .venv/*\n    reason: pip-installed dependencies\n")
    assert _failing(_run_all(sast.source_context(root, baseline))) == set()


def test_python_hidden_in_a_tool_folder_is_analysed(tmp_path: Path) -> None:
    root = source(frozenset(), tmp_path / "src")
    (root / "__pycache__").mkdir(exist_ok=True)
    (root / "__pycache__" / "loader.py").write_text(DODGE_LINES)
    (root / "__pycache__" / "loader.cpython-311.pyc").write_bytes(b"\x00\x01")
    results = _run_all(sast.source_context(root))
    assert "__pycache__/loader.py" in _located(results["SAST-BANDIT"])
    notes = " ".join(e.data["text"] for e in results["SAST-BANDIT"].evidence if e.kind == "note")
    assert ".pyc" not in notes  # tool data is passed over, not listed


def test_a_file_too_big_for_the_parsers_memory_cap_is_listed_not_fatal(tmp_path: Path) -> None:
    root = source(frozenset(), tmp_path / "src")
    (root / "generated.py").write_text(
        "".join(f"def g{i}(x):\n    return x + {i}\n" for i in range(60_000)))
    analysis = analyse_python(inventory(root), memory_limit_bytes=256 * 1024**2)
    [(name, why)] = analysis.skipped  # a MemoryError in bandit or in the child: either way listed
    assert name == "generated.py" and why
    assert analysis.files_scanned == len(inventory(root).python()) - 1


def test_analysis_budget_spent_is_listed_not_fatal(tmp_path: Path) -> None:
    """The suite's analysis budget (ANALYSIS_BUDGET_S, 90 s), scaled down to 3 s: a file still
    parsing when the budget runs out is killed and listed, and a file whose turn comes after the
    budget is listed unparsed; both are Python no check analysed, which fails the SAST checks."""
    (tmp_path / "a_dense.py").write_text("x = 1\n" * 400_000)  # 2.4 MB, 12-40 s of CPU to parse
    (tmp_path / "b_small.py").write_text(DODGE_LINES)
    analysis = analyse_python(inventory(tmp_path), budget_s=3)
    assert dict(analysis.skipped) == {"a_dense.py": "not analysed: parsing took over 3 s",
                                      "b_small.py": "not analysed: the 3 s analysis budget was spent"}
    assert analysis.files_scanned == 0 and analysis.bandit == () and analysis.tls == ()


# --- popcert's TLS rule (tls_rule.py), line by line ---------------------------------------------

@pytest.mark.parametrize(("code", "rule"), [
    ("session.post(url, json=body, verify=False)", "tls-verify-disabled"),
    ("client = httpx.Client(verify=False)", "tls-verify-disabled"),
    ("session.verify = False", "tls-verify-disabled"),
    ("VERIFY = False\nsession.get(url, verify=VERIFY)", "tls-verify-disabled"),
    ("session.request('GET', url, **{'verify': False})", "tls-verify-disabled"),
    ("aiohttp.TCPConnector(ssl=False)", "tls-verify-disabled"),
    ("context = ssl._create_unverified_context()", "tls-unverified-context"),
    ("ssl._create_default_https_context = ssl._create_unverified_context",
     "tls-unverified-context"),
    ("make = getattr(ssl, '_create_unverified_context')", "tls-unverified-context"),
    ("context.verify_mode = ssl.CERT_NONE", "tls-cert-none"),
    ("from ssl import CERT_NONE as NO_CHECK", "tls-cert-none"),
    ("pool = urllib3.PoolManager(cert_reqs='CERT_NONE')", "tls-cert-none"),
    ("context.check_hostname = False", "tls-hostname-unchecked"),
    # an allow-list (issue 24): a value not provably on is a finding the baseline may accept
    ("session.verify = ca_bundle_path", "tls-verify-unproven"),
])
def test_tls_rule_catches(code: str, rule: str) -> None:
    from harness.suites.sast.tls_rule import scan_source

    assert rule in {f.rule for f in scan_source(code) if f.severity == "high"}


@pytest.mark.parametrize("code", [
    "requests.get(url, verify='/etc/popcert/ca.pem', timeout=5)",
    "session.post(url, verify=True)",
    "CA = '/etc/popcert/ca.pem'\nsession.verify = CA",
    "context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\ncontext.verify_mode = ssl.CERT_NONE",
    "ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)\nctx.verify_mode = ssl.CERT_NONE",
    "context.verify_mode = ssl.CERT_REQUIRED",
    "verify = False  # a local flag named verify, not passed to any call",
])
def test_tls_rule_leaves_alone(code: str) -> None:
    from harness.suites.sast.tls_rule import scan_source

    assert [f for f in scan_source(code) if f.severity == "high"] == []


def test_silenced_warnings_are_information_only(tmp_path: Path) -> None:
    root = source(frozenset(), tmp_path)
    (root / "quiet.py").write_text("import urllib3\nurllib3.disable_warnings()\n")
    result = _run_all(sast.source_context(root))["SAST-TLS-VERIFY"]
    assert result.status == Status.PASS
    assert any("disable_warnings" in e.data["text"] for e in result.evidence if e.kind == "note")


@pytest.mark.parametrize("name", ["dist/city_system-1.0-py3-none-any.whl", "registry.pyc"])
def test_python_shipped_without_source_must_be_excluded_knowingly(tmp_path: Path, name: str) -> None:
    root = source(frozenset(), tmp_path / "src")
    (root / name).parent.mkdir(parents=True, exist_ok=True)
    (root / name).write_bytes(b"PK\x03\x04\x00\x00 compiled or zipped code")
    results = _run_all(sast.source_context(root))
    assert _failing(results) == {"SAST-BANDIT", "SAST-TLS-VERIFY", "SAST-SECRETS"}
    assert name in results["SAST-BANDIT"].summary
    baseline = tmp_path / "baseline.yaml"
    baseline.write_text(f"excluded:\n  - path: {name}\n    reason: built from the sources above\n")
    assert _failing(_run_all(sast.source_context(root, baseline))) == set()


def test_sast_finds_at_least_what_plain_bandit_finds(dodge_results: DodgeRun) -> None:
    """The issue's yardstick: `bandit -r` on the same tree. Every issue it reports is a finding of
    SAST-BANDIT at the same real file and line, or its file is listed as not analysed (a link
    out of the tree, which bandit follows)."""
    import subprocess
    import sys

    root, results, ctx = dodge_results
    report = subprocess.run([sys.executable, "-m", "bandit", "-r", str(root), "-f", "json", "-q",
                             "--ignore-nosec"], check=False, capture_output=True, text=True, timeout=600)
    plain = json.loads(report.stdout)["results"]
    assert len(plain) >= 5
    ours = {(str((root / str(f["location"])).resolve()), f["line"], f["rule"])
            for f in _findings(results["SAST-BANDIT"])}
    # below the profile's threshold too, like plain bandit
    ours |= {(str((root / f.relative).resolve()), f.line, f.rule) for f in ctx.python().bandit}
    notes = " ".join(e.data["text"] for e in results["SAST-BANDIT"].evidence if e.kind == "note")
    for issue in plain:
        real = Path(issue["filename"]).resolve()
        if not real.is_relative_to(root.resolve()):
            assert Path(issue["filename"]).name in notes
            continue
        assert (str(real), issue["line_number"], issue["test_id"]) in ours, issue


def test_an_unproven_verify_value_fails_until_the_baseline_accepts_it(tmp_path: Path) -> None:
    """Issue 24: the TLS rule is an allow-list; a value it cannot prove on is a finding that the
    assessor may accept, with a reason, by its fingerprint."""
    root = source(frozenset(), tmp_path / "src")
    (root / "registry.py").write_text(
        "import requests\n\ndef fetch(url: str, ca_bundle: str) -> int:\n"
        "    return requests.get(url, verify=ca_bundle, timeout=5).status_code\n")
    result = _run_all(sast.source_context(root))["SAST-TLS-VERIFY"]
    assert result.status == Status.FAIL
    [finding] = _findings(result)
    assert (finding["location"], finding["rule"]) == ("registry.py", "tls-verify-unproven")
    baseline = tmp_path / "baseline.yaml"
    baseline.write_text(f"accepted:\n  - fingerprint: {finding['fingerprint']}\n"
                        "    reason: ca_bundle is always the national CA path from run.yaml\n")
    accepted = _run_all(sast.source_context(root, baseline))["SAST-TLS-VERIFY"]
    assert accepted.status == Status.PASS and "1 accepted" in accepted.summary


def test_the_dodged_overlay_is_caught_by_the_allow_list_only(tmp_path: Path) -> None:
    """sast.tls_verify_dodged: three forms that bandit (and the deny-list this rule replaced)
    missed; each is a finding on its own line."""
    root = source(frozenset({"sast.tls_verify_dodged"}), tmp_path)
    results = _run_all(sast.source_context(root))
    assert results["SAST-BANDIT"].status == Status.PASS
    lines = (root / "tls_verify_dodged.py").read_text().splitlines()
    found = {(lines[int(f["line"]) - 1].split("  #")[0].strip(), f["rule"])
             for f in _findings(results["SAST-TLS-VERIFY"])}
    assert found == {('setattr(session, "verify", _STRICT_TLS)', "tls-verify-disabled"),
                     ('return functools.partial(requests.get, timeout=10, **{"ver" + "ify": ""})',
                      "tls-verify-disabled"),
                     ('os.environ["CURL_CA_BUNDLE"] = ""', "tls-env-disabled")}
