"""report.sarif: valid against the official OASIS SARIF 2.1.0 schema; rules, levels, locations."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import jsonschema
import pytest

from harness.report.document import SCHEMA_DIR
from harness.report.sarif import render_sarif
from tests.unit.report.sample_report import certified_report, doc, sample_report


@pytest.fixture(scope="module")
def sarif_validator() -> jsonschema.Draft4Validator:
    schema = json.loads((SCHEMA_DIR / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
    assert schema["id"].endswith("/sarif-schema-2.1.0.json")
    return jsonschema.Draft4Validator(schema)


def _results(sarif: dict[str, Any], rule: str) -> list[dict[str, Any]]:
    return [r for r in sarif["runs"][0]["results"] if r["ruleId"] == rule]


def test_sarif_is_valid_with_one_rule_per_check(sarif_validator: jsonschema.Draft4Validator) -> None:
    report = sample_report()
    sarif = render_sarif(doc(report))
    sarif_validator.validate(sarif)
    rules = sarif["runs"][0]["tool"]["driver"]["rules"]
    assert sorted(r["id"] for r in rules) == sorted(r["check"]["id"] for r in report["results"])
    for result in sarif["runs"][0]["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["locations"]


def test_only_failing_checks_are_results_with_mapped_levels() -> None:
    sarif = render_sarif(doc(sample_report()))
    reported = {r["ruleId"] for r in sarif["runs"][0]["results"]}
    assert reported == {"AUTH-JWT-ALG-NONE", "CONF-SCHEMA-RESPONSES", "LOAD-LATENCY-P99",
                        "SAST-HARDCODED-SECRET"}
    assert _results(sarif, "AUTH-JWT-ALG-NONE")[0]["level"] == "error"  # critical
    assert _results(sarif, "LOAD-LATENCY-P99")[0]["level"] == "warning"  # medium
    rule = next(r for r in sarif["runs"][0]["tool"]["driver"]["rules"] if r["id"] == "TLS-CERT-ROTATION")
    assert rule["defaultConfiguration"]["level"] == "note"  # low


def test_findings_carry_file_and_line() -> None:
    findings = _results(render_sarif(doc(sample_report())), "SAST-HARDCODED-SECRET")
    assert len(findings) == 2
    first = findings[0]["locations"][0]["physicalLocation"]
    assert first["artifactLocation"]["uri"] == "examples/city_system/npdb_client.py"
    assert first["region"]["startLine"] == 42
    # Line unknown: GitHub still needs a region, so the finding is on the file's first line.
    assert findings[1]["locations"][0]["physicalLocation"]["region"] == {"startLine": 1}


def test_waived_failure_is_suppressed(sarif_validator: jsonschema.Draft4Validator) -> None:
    waived = _results(render_sarif(doc(sample_report())), "LOAD-LATENCY-P99")[0]
    assert waived["suppressions"][0]["status"] == "accepted"
    assert "suppressions" not in _results(render_sarif(doc(sample_report())), "AUTH-JWT-ALG-NONE")[0]


def test_certified_report_has_no_results(sarif_validator: jsonschema.Draft4Validator) -> None:
    sarif = render_sarif(doc(certified_report()))
    sarif_validator.validate(sarif)
    assert [r["ruleId"] for r in sarif["runs"][0]["results"]] == ["LOAD-LATENCY-P99"]  # waived only


def test_the_schema_rejects_a_broken_sarif(sarif_validator: jsonschema.Draft4Validator) -> None:
    sarif = render_sarif(doc(sample_report()))
    sarif["runs"][0]["results"][0]["level"] = "critical"
    assert not sarif_validator.is_valid(sarif)


# GitHub code scanning's ingestion rules ("SARIF support for code scanning", docs.github.com),
# written as assertions: what upload-sarif would reject, drop or misplace.
GITHUB_LEVELS = {"none", "note", "warning", "error"}


def _github_ingestion_problems(sarif: dict[str, Any]) -> list[str]:
    problems = []
    if sarif.get("version") != "2.1.0":
        problems.append("version must be 2.1.0")
    if not 1 <= len(sarif["runs"]) <= 20:
        problems.append("1 to 20 runs per file")
    for run in sarif["runs"]:
        driver = run["tool"]["driver"]
        if not driver.get("name"):
            problems.append("tool.driver.name is required")
        rules = driver.get("rules", [])
        if len(rules) > 25_000 or len(run["results"]) > 25_000:
            problems.append("at most 25,000 rules and 25,000 results per run")
        for rule in rules:
            if len(rule.get("properties", {}).get("tags", [])) > 20:
                problems.append(f"{rule['id']}: at most 20 tags")
            severity = rule.get("properties", {}).get("security-severity")
            if severity is not None and not 0.0 <= float(severity) <= 10.0:
                problems.append(f"{rule['id']}: security-severity must be 0.0-10.0")
            if not rule.get("shortDescription", {}).get("text"):
                problems.append(f"{rule['id']}: shortDescription.text")
        for result in run["results"]:
            where = result.get("ruleId") or "?"
            if not result.get("ruleId"):
                problems.append("a result without ruleId")
            if result.get("level", "warning") not in GITHUB_LEVELS:
                problems.append(f"{where}: level {result.get('level')!r}")
            if not result.get("message", {}).get("text"):
                problems.append(f"{where}: message.text is required")
            if not result.get("partialFingerprints"):
                problems.append(f"{where}: partialFingerprints (alerts would duplicate across runs)")
            locations = result.get("locations") or []
            if not 1 <= len(locations) <= 10:
                problems.append(f"{where}: 1 to 10 locations (none: GitHub cannot show it)")
            for location in locations:
                physical = location.get("physicalLocation", {})
                uri = physical.get("artifactLocation", {}).get("uri", "")
                if not uri or uri.startswith(("/", "file:", "~")) or "://" in uri or ".." in uri.split("/"):
                    problems.append(f"{where}: uri {uri!r} is not relative to the repository")
                if uri.startswith(("specs/", "reports/", "harness/")):
                    problems.append(f"{where}: uri {uri!r} is one of popcert's own files")
                if physical.get("artifactLocation", {}).get("uriBaseId") != "%SRCROOT%":
                    problems.append(f"{where}: uriBaseId must be %SRCROOT%")
                if not isinstance(physical.get("region", {}).get("startLine"), int):
                    problems.append(f"{where}: region.startLine is required")
    return problems


def test_sarif_meets_github_ingestion_rules(sarif_validator: jsonschema.Draft4Validator) -> None:
    for report in (sample_report(), certified_report()):
        sarif = render_sarif(doc(report))
        sarif_validator.validate(sarif)
        assert _github_ingestion_problems(sarif) == []


def test_no_local_path_or_invented_spec_path_reaches_sarif(
        sarif_validator: jsonschema.Draft4Validator) -> None:
    report = sample_report()
    firewall = next(r for r in report["results"] if r["check"]["id"] == "FW-DEFAULT-DENY")
    firewall["status"] = "fail"
    firewall["evidence"] = [
        {"kind": "finding", "title": "rule", "data": {
            "location": "/home/assessor/vendor/firewall/iptables-save.txt", "line": 7, "rule": "any-any",
            "message": "accepts everything", "repo_path": "firewall/iptables-save.txt"}},
        {"kind": "finding", "title": "rule", "data": {
            "location": "/tmp/elsewhere/rules.txt", "line": 3, "rule": "any-any", "message": "outside"}},
        {"kind": "finding", "title": "tls", "data": {
            "location": "127.0.0.1:8443", "line": None, "rule": "tls", "message": "not a file"}}]
    sarif = render_sarif(doc(report))
    sarif_validator.validate(sarif)
    assert _github_ingestion_problems(sarif) == []
    text = json.dumps(sarif)
    assert "/home/assessor" not in text.replace('"commandLine"', "") and "/tmp/elsewhere" not in text
    assert "specs/profiles" not in text and "specs/connection" not in text
    uris = {loc["physicalLocation"]["artifactLocation"]["uri"]
            for r in sarif["runs"][0]["results"] for loc in r["locations"]}
    assert uris == {"firewall/iptables-save.txt", "examples/city_system/npdb_client.py",
                    "examples/city_system/settings.py", "ci/run.yaml"}
    # A check without a file of its own points at the run config that names the SUT.
    auth = _results(sarif, "AUTH-JWT-ALG-NONE")[0]
    assert auth["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "ci/run.yaml"
    assert "https://127.0.0.1:8443" in auth["message"]["text"]


def test_the_ingestion_rules_catch_what_github_refuses() -> None:
    sarif = render_sarif(doc(sample_report()))
    result = sarif["runs"][0]["results"][0]
    del result["partialFingerprints"]
    result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] = "/abs/path.py"
    problems = _github_ingestion_problems(sarif)
    assert any("partialFingerprints" in p for p in problems)
    assert any("not relative" in p for p in problems)


def test_findings_are_placed_in_the_system_repository(tmp_path: Any, monkeypatch: pytest.MonkeyPatch,
                                                      sarif_validator: jsonschema.Draft4Validator) -> None:
    """SAST paths are relative to source.path, firewall paths are absolute: both become repo paths."""
    from datetime import UTC, date, datetime

    from harness.checks import CheckResult, Evidence
    from harness.config import RunConfig
    from harness.profiles import load_profile
    from harness.registry import default_registry
    from harness.report_model import (
        RecordedResult,
        RunEnd,
        build_report,
        gather_run_facts,
        locate_findings,
    )
    (tmp_path / "backend" / "app").mkdir(parents=True)
    (tmp_path / "backend" / "app" / "settings.py").write_text("PASSWORD = 'x'\n", encoding="utf-8")
    (tmp_path / "net").mkdir()
    (tmp_path / "net" / "rules.txt").write_text("*filter\n", encoding="utf-8")
    (tmp_path / "run.yaml").write_text("system: {}\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    config = RunConfig.model_validate({
        "system": {"name": "City", "organisation": "tests", "level": "district"},
        "target": {"base_url": "https://127.0.0.1:8443"}, "suites": ["sast", "firewall"],
        "source": {"path": str(tmp_path / "backend")},
        "firewall": {"ruleset": str(tmp_path / "net" / "rules.txt")},
    }).model_copy(update={"source_file": tmp_path / "run.yaml"})
    records = [
        RecordedResult(default_registry()["SAST-SECRETS"], CheckResult.failed(
            "a secret", Evidence.finding("app/settings.py", 1, "password-assignment", "literal")),
            True, "2025-04-01T09:00:00+07:00", 0.1),
        RecordedResult(default_registry()["FW-NO-ANY-ANY"], CheckResult.failed(
            "any-any", Evidence.finding(str(tmp_path / "net" / "rules.txt"), 1, "any-any", "x")),
            True, "2025-04-01T09:00:00+07:00", 0.1),
    ]
    facts = gather_run_facts(config, load_profile("district"), default_registry().ids(),
                             started=datetime(2025, 4, 1, tzinfo=UTC), today=date(2025, 4, 1),
                             run_id="r", assessor=([], []))
    report = build_report(facts, [locate_findings(r, facts) for r in records],
                          RunEnd(complete=True, finished_at=datetime(2025, 4, 1, tzinfo=UTC))
                          ).to_json()
    assert report["system"]["config_file"] == "run.yaml"
    sarif = render_sarif(doc(report))
    sarif_validator.validate(sarif)
    assert _github_ingestion_problems(sarif) == []
    uris = [r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            for r in sarif["runs"][0]["results"]]
    assert uris == ["net/rules.txt", "backend/app/settings.py"]
    assert str(tmp_path) not in json.dumps(sarif["runs"][0]["results"])


# Requirement ids (specs/requirements.yaml, issue 15): on the rule, on the result, and the spec
# line each requirement is written on as a related location under popcert's own base id.
ALG_NONE_IDS = ["CONN-SEC-JWT", "CONN-SEC-JWT-SIGNATURE", "RFC7518-ALG-NONE"]


def _with_ids(report: dict[str, Any], check_id: str, ids: list[str]) -> dict[str, Any]:
    for result in report["results"]:
        if result["check"]["id"] == check_id:
            result["check"]["requirements"] = ids
    return report


def _rule_of(sarif: dict[str, Any], check_id: str) -> dict[str, Any]:
    return next(r for r in sarif["runs"][0]["tool"]["driver"]["rules"] if r["id"] == check_id)


def test_rules_and_results_carry_requirement_ids(sarif_validator: jsonschema.Draft4Validator) -> None:
    from harness.requirements import load_catalogue
    catalogue = load_catalogue()
    sarif = render_sarif(doc(_with_ids(sample_report(), "AUTH-JWT-ALG-NONE", ALG_NONE_IDS)))
    sarif_validator.validate(sarif)
    assert _github_ingestion_problems(sarif) == []
    rule = _rule_of(sarif, "AUTH-JWT-ALG-NONE")
    assert rule["properties"]["requirements"] == ALG_NONE_IDS
    assert rule["properties"]["requirementSources"]["CONN-SEC-JWT"] == \
        "specs/connection/v1/openapi.yaml:11 (info.description)"
    # The rule's help link is the outside document's clause (RFC 7518 §3.6).
    assert rule["helpUri"] == "https://www.rfc-editor.org/rfc/rfc7518#section-3.6"
    assert "- RFC7518-ALG-NONE: " in rule["help"]["text"]
    result = _results(sarif, "AUTH-JWT-ALG-NONE")[0]
    assert result["properties"]["requirements"] == ALG_NONE_IDS
    # The result stays on the run config in the system's repository ...
    assert result["locations"][0]["physicalLocation"]["artifactLocation"] == {
        "uri": "ci/run.yaml", "uriBaseId": "%SRCROOT%"}
    # ... and points at the lines of popcert's spec it enforces, never as a %SRCROOT% file.
    related = [(r["physicalLocation"]["artifactLocation"]["uri"],
                r["physicalLocation"]["artifactLocation"]["uriBaseId"],
                r["physicalLocation"]["region"]["startLine"]) for r in result["relatedLocations"]]
    expected = [(c.source.document, "POPCERTSPECS", c.source.line)
                for c in (catalogue.get(i) for i in ALG_NONE_IDS) if c and c.source.in_repository]
    assert related == expected == [("specs/connection/v1/openapi.yaml", "POPCERTSPECS", 11),
                                   ("specs/connection/v1/openapi.yaml", "POPCERTSPECS", 219)]
    assert "POPCERTSPECS" in sarif["runs"][0]["originalUriBaseIds"]


def test_without_any_repository_file_the_location_is_the_requirement_line(
        sarif_validator: jsonschema.Draft4Validator) -> None:
    report = _with_ids(sample_report(), "AUTH-JWT-ALG-NONE", ALG_NONE_IDS)
    report["system"]["config_file"] = None
    sarif = render_sarif(doc(report))
    sarif_validator.validate(sarif)
    located = _results(sarif, "AUTH-JWT-ALG-NONE")[0]["locations"]
    assert located == [{"physicalLocation": {
        "artifactLocation": {"uri": "specs/connection/v1/openapi.yaml", "uriBaseId": "POPCERTSPECS"},
        "region": {"startLine": 11}},
        "message": {"text": located[0]["message"]["text"]}}]
    assert located[0]["message"]["text"].startswith("CONN-SEC-JWT: ")
    # A prose-only check has nothing to point at: no location, as before the catalogue.
    assert "locations" not in _results(sarif, "LOAD-LATENCY-P99")[0]


def test_findings_keep_their_file_and_gain_the_requirement_lines() -> None:
    report = _with_ids(sample_report(), "SAST-HARDCODED-SECRET", ["CWE-798"])
    findings = _results(render_sarif(doc(report)), "SAST-HARDCODED-SECRET")
    assert findings[0]["locations"][0]["physicalLocation"]["region"]["startLine"] == 42
    # CWE-798 is an outside document: no spec line to relate to.
    assert all("relatedLocations" not in f for f in findings)
    assert all(f["properties"]["requirements"] == ["CWE-798"] for f in findings)
    rule = _rule_of(render_sarif(doc(report)), "SAST-HARDCODED-SECRET")
    assert rule["helpUri"] == "https://cwe.mitre.org/data/definitions/798.html"


def test_prose_only_unknown_and_hostile_requirement_ids() -> None:
    plain = render_sarif(doc(sample_report()))
    rule = _rule_of(plain, "AUTH-JWT-ALG-NONE")
    assert "requirements" not in rule["properties"] and "helpUri" not in rule
    assert "relatedLocations" not in _results(plain, "AUTH-JWT-ALG-NONE")[0]
    # report.json cannot carry such ids (the schema refuses them): a document built in memory can.
    plain_doc = doc(sample_report())
    odd = render_sarif(replace(plain_doc, results=tuple(
        replace(r, check=replace(r.check, requirements=(
            "NOT-IN-CATALOGUE", "<script>x</script>", "CONN-BODY-LIMIT")))
        if r.check.id == "AUTH-JWT-ALG-NONE" else r for r in plain_doc.results)))
    rule = _rule_of(odd, "AUTH-JWT-ALG-NONE")
    # An id the catalogue lacks is still named; markup that is no id is dropped.
    assert rule["properties"]["requirements"] == ["NOT-IN-CATALOGUE", "CONN-BODY-LIMIT"]
    assert list(rule["properties"]["requirementSources"]) == ["CONN-BODY-LIMIT"]
    assert "<script>" not in json.dumps(odd)


def test_sarif_and_junit_reproductions_name_no_local_path(
        sarif_validator: jsonschema.Draft4Validator, tmp_path: Any) -> None:
    """Issue 21 §2: the reproduce property is path-free; its variables say how to get each."""
    from pathlib import Path

    from harness.checks import Evidence
    from harness.net import TlsMaterial, curl_command, tls_variables
    from harness.report.junit import render_junit

    tls = TlsMaterial(Path(tmp_path) / "ca.pem", Path(tmp_path) / "c.pem", Path(tmp_path) / "k.pem")
    forged = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJwb3J0YWwifQ."
    command = curl_command("GET", "https://127.0.0.1:8443/connection/v1/dossiers",
                           {"Authorization": f"Bearer {forged}"}, None, tls)
    report = sample_report()
    report["results"][0]["evidence"].append(
        Evidence.reproduction(command, variables=tls_variables(tls), shown=[forged]).to_json())
    report["results"][0]["evidence"] = [e for e in report["results"][0]["evidence"]
                                        if not e["data"].get("command", "").startswith("popcert")]
    sarif = render_sarif(doc(report))
    sarif_validator.validate(sarif)
    (result,) = _results(sarif, "AUTH-JWT-ALG-NONE")
    assert result["properties"]["reproduce"].startswith('curl -sS -X GET --cacert "$CA_BUNDLE"')
    assert forged in result["properties"]["reproduce"]
    assert result["properties"]["reproduceVariables"]["CLIENT_KEY"] == (
        "popcert mock credential key --client portal --kind valid")
    assert str(tmp_path) not in json.dumps(sarif)
    junit = render_junit(doc(report)).decode("utf-8")
    assert '$CA_BUNDLE: the CA certificate' in junit and str(tmp_path) not in junit
