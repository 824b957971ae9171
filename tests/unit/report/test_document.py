"""The canonical report: its schema accepts real reports and rejects broken ones; bytes are stable."""

from __future__ import annotations

import json
import math

import pytest

from harness.report.document import schema_errors
from harness.signing.canonical import canonical_json, is_canonical
from tests.unit.report.sample_report import certified_report, sample_report


def test_sample_reports_match_the_schema() -> None:
    assert schema_errors(sample_report()) == []
    assert schema_errors(certified_report()) == []


@pytest.mark.parametrize("breakage, where", [
    (lambda r: r.pop("verdict"), "(root): 'verdict' is a required"),
    (lambda r: r["verdict"].update(status="PASSED"), "verdict.status"),
    (lambda r: r["results"][0].update(status="failed"), "results[0].status"),
    (lambda r: r["results"][0]["check"].update(severity="urgent"), "results[0].check.severity"),
    (lambda r: r["specs"]["npdb"].update(sha256="abc"), "specs.npdb.sha256"),
    (lambda r: r.update(signature="AAAA"), "(root)"),
    (lambda r: r["results"][3]["evidence"][1]["data"]["series"].update(p50=[[1, "x"]]), "results[3]"),
    (lambda r: r["results"][4]["evidence"][0]["data"].pop("line"), "results[4].evidence[0].data"),
])
def test_schema_names_the_broken_field(breakage, where: str) -> None:
    report = sample_report()
    breakage(report)
    errors = schema_errors(report)
    assert errors and any(e.startswith(where) for e in errors), errors


def test_canonical_json_is_sorted_compact_utf8() -> None:
    report = sample_report()
    raw = canonical_json(report)
    assert "Hà Nội".encode() in raw  # UTF-8, not \u escapes
    assert b": " not in raw.split(b'"results"')[0] and b"\n" not in raw
    assert json.loads(raw) == report
    shuffled = json.loads(json.dumps(report), object_pairs_hook=lambda pairs: dict(reversed(pairs)))
    assert canonical_json(shuffled) == raw
    assert is_canonical(raw)
    assert not is_canonical(json.dumps(report, indent=1).encode())


def test_canonical_json_refuses_nan() -> None:
    report = sample_report()
    report["results"][0]["measurements"]["rps"] = math.nan
    with pytest.raises(ValueError):
        canonical_json(report)
