"""report.sarif: valid against the official OASIS SARIF 2.1.0 schema; rules, levels, locations."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from harness.report.document import SCHEMA_DIR
from harness.report.sarif import render_sarif
from tests.unit.report.sample_report import certified_report, sample_report


@pytest.fixture(scope="module")
def sarif_validator() -> jsonschema.Draft4Validator:
    schema = json.loads((SCHEMA_DIR / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
    assert schema["id"].endswith("/sarif-schema-2.1.0.json")
    return jsonschema.Draft4Validator(schema)


def _results(sarif: dict[str, Any], rule: str) -> list[dict[str, Any]]:
    return [r for r in sarif["runs"][0]["results"] if r["ruleId"] == rule]


def test_sarif_is_valid_with_one_rule_per_check(sarif_validator: jsonschema.Draft4Validator) -> None:
    report = sample_report()
    sarif = render_sarif(report)
    sarif_validator.validate(sarif)
    rules = sarif["runs"][0]["tool"]["driver"]["rules"]
    assert sorted(r["id"] for r in rules) == sorted(r["check"]["id"] for r in report["results"])
    for result in sarif["runs"][0]["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["locations"]


def test_only_failing_checks_are_results_with_mapped_levels() -> None:
    sarif = render_sarif(sample_report())
    reported = {r["ruleId"] for r in sarif["runs"][0]["results"]}
    assert reported == {"AUTH-JWT-ALG-NONE", "CONF-SCHEMA-RESPONSES", "LOAD-LATENCY-P99",
                        "SAST-HARDCODED-SECRET"}
    assert _results(sarif, "AUTH-JWT-ALG-NONE")[0]["level"] == "error"  # critical
    assert _results(sarif, "LOAD-LATENCY-P99")[0]["level"] == "warning"  # medium
    rule = next(r for r in sarif["runs"][0]["tool"]["driver"]["rules"] if r["id"] == "TLS-CERT-ROTATION")
    assert rule["defaultConfiguration"]["level"] == "note"  # low


def test_findings_carry_file_and_line() -> None:
    findings = _results(render_sarif(sample_report()), "SAST-HARDCODED-SECRET")
    assert len(findings) == 2
    first = findings[0]["locations"][0]["physicalLocation"]
    assert first["artifactLocation"]["uri"] == "examples/city_system/npdb_client.py"
    assert first["region"]["startLine"] == 42
    assert "region" not in findings[1]["locations"][0]["physicalLocation"]  # line unknown


def test_waived_failure_is_suppressed(sarif_validator: jsonschema.Draft4Validator) -> None:
    waived = _results(render_sarif(sample_report()), "LOAD-LATENCY-P99")[0]
    assert waived["suppressions"][0]["status"] == "accepted"
    assert "suppressions" not in _results(render_sarif(sample_report()), "AUTH-JWT-ALG-NONE")[0]


def test_certified_report_has_no_results(sarif_validator: jsonschema.Draft4Validator) -> None:
    sarif = render_sarif(certified_report())
    sarif_validator.validate(sarif)
    assert [r["ruleId"] for r in sarif["runs"][0]["results"]] == ["LOAD-LATENCY-P99"]  # waived only


def test_the_schema_rejects_a_broken_sarif(sarif_validator: jsonschema.Draft4Validator) -> None:
    sarif = render_sarif(sample_report())
    sarif["runs"][0]["results"][0]["level"] = "critical"
    assert not sarif_validator.is_valid(sarif)
