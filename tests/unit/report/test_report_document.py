"""The typed report document: report.json both ways in one place, tested against its schema.

``from_json(x).to_json() == x`` for every report the schema accepts, older ones included (their
missing optional keys stay missing, so a re-written report keeps its bytes); anything else, hostile
or broken, is refused with a ReportFormatError naming the field.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import FrozenInstanceError, fields
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.report.document import (
    AttestationEntry,
    CheckEntry,
    EvidenceEntry,
    ReportDocument,
    ReportFormatError,
    ResultEntry,
    RunEntry,
    WaiverEntry,
    canonical_json,
    read_report,
    report_schema,
)
from tests.unit.report.sample_report import (
    certified_report,
    registered_certified_report,
    sample_report,
)

DELETE = object()  # an edit that removes the key or item
FINGERPRINTS = {"firewall_ruleset": "sha256:" + "a" * 64, "source_tree": None}


@pytest.mark.parametrize("make", [sample_report, certified_report, registered_certified_report])
def test_every_sample_report_reads_and_writes_back_byte_for_byte(make: Callable[[], Any]) -> None:
    report = make()
    document = ReportDocument.from_json(report)
    assert document.to_json() == report
    assert document.canonical_bytes() == canonical_json(report)


@pytest.mark.parametrize("change", [
    lambda r: r["run"].update(registered_checks=["AUTH-JWT-ALG-NONE"], fingerprints=FINGERPRINTS),
    lambda r: r["run"].update(fingerprints={}),
    lambda r: r["run"].update(fingerprints={"source_tree": None}),
    lambda r: r["system"].pop("config_file"),
    lambda r: r["system"].update(config_file=None, region="north"),  # the schema allows extras
    lambda r: r["profile"].update(note="extra"),
    lambda r: r["attestations"][0].pop("title_vi"),
    lambda r: r["attestations"][0].update(expires=None, witness="extra"),
    lambda r: r["results"][0]["check"].update(requirements=["CONN-AUTH-01"]),
    lambda r: r["results"][0]["measurements"].update(count=3, share=0.5),
    lambda r: r["results"][0]["evidence"].append({"kind": "note", "title": "n", "data": None}),
    lambda r: r.update(results=[], attestations=[], specs={}),
], ids=["fingerprints", "empty-fingerprints", "one-fingerprint", "no-config-file", "system-extra",
        "profile-extra", "no-title-vi", "attestation-extra", "requirement-ids", "int-measurements",
        "null-evidence-data", "empty"])
def test_what_the_schema_allows_round_trips_exactly(change: Callable[[dict[str, Any]], Any]) -> None:
    report = sample_report()
    change(report)
    assert ReportDocument.from_json(copy.deepcopy(report)).to_json() == report


def test_attributes_mirror_the_json() -> None:
    report = sample_report()
    document = ReportDocument.from_json(report)
    assert document.verdict.status == "NOT CERTIFIED"
    assert document.verdict.blocking == tuple(report["verdict"]["blocking"])
    assert document.run.registered_checks is None and document.run.fingerprints is None
    assert document.system.config_file == "ci/run.yaml"
    latency = next(r for r in document.results if r.check.id == "LOAD-LATENCY-P99")
    assert isinstance(latency.waiver, WaiverEntry) and latency.waiver.valid and latency.waived
    assert latency.check.requirements is None  # an older report: the check named no ids
    assert document.specs["npdb"].version == "v1"
    assert document.attestations[1].status == "missing" and document.attestations[1].date is None
    with pytest.raises(FrozenInstanceError):
        document.verdict.status = "CERTIFIED"  # type: ignore[misc]


SECTIONS: list[tuple[type[Any], str]] = [
    (ReportDocument, "#"), (RunEntry, "#/properties/run"), (ResultEntry, "#/$defs/result"),
    (CheckEntry, "#/$defs/check"), (EvidenceEntry, "#/$defs/evidence"),
    (WaiverEntry, "#/$defs/waiver"), (AttestationEntry, "#/$defs/attestation"),
]


def _schema_at(pointer: str) -> dict[str, Any]:
    node = report_schema()
    for part in pointer.lstrip("#").strip("/").split("/"):
        node = node[part] if part else node
    return node


@pytest.mark.parametrize("entry, pointer", SECTIONS, ids=[s[0].__name__ for s in SECTIONS])
def test_each_entry_writes_every_key_its_schema_names(entry: type[Any], pointer: str) -> None:
    """The types and reports/schema/report.schema.json cannot drift apart unnoticed."""
    report = sample_report()
    report["run"].update(registered_checks=[], fingerprints=FINGERPRINTS, mode="quick",
                         load_duration_s=8.0, example_inputs=["attestations"],
                         results_chain={"count": 0, "head": "0" * 64}, duration_s=71.2,
                         phases=[{"suite": "conformance", "setup_s": 60.0, "checks_s": 1.5,
                                  "teardown_s": 0.1, "duration_s": 61.6}])
    report["banner"] = {"en": "DEMO / QUICK RUN: not a certification", "vi": "…"}
    report["results"][0]["check"]["requirements"] = []
    document = ReportDocument.from_json(report)
    written = {ReportDocument: document, RunEntry: document.run,
               ResultEntry: document.results[0], CheckEntry: document.results[0].check,
               EvidenceEntry: document.results[0].evidence[0],
               WaiverEntry: document.results[3].waiver,
               AttestationEntry: document.attestations[0]}[entry].to_json()
    schema = _schema_at(pointer)
    assert set(schema["properties"]) <= set(written)
    assert set(schema.get("required", ())) <= set(written)
    if schema.get("additionalProperties") is False:
        assert set(written) == set(schema["properties"])
    named = {f.name for f in fields(entry)} - {"absent", "extra"}
    assert set(schema["properties"]) <= named


@pytest.mark.parametrize("garbage, where", [
    ([], "(root): a JSON object expected, not list"),
    ("report", "(root): a JSON object expected, not str"),
    (None, "(root): a JSON object expected, not NoneType"),
    ({}, "(root): 'schema_version' is a required property"),
    ({**sample_report(), "signature": "AAAA"}, "(root): Additional properties"),
    ({**sample_report(), "verdict": {"status": "CERTIFIED"}}, "verdict: 'reasons' is a required"),
    ({**sample_report(), "results": "all passed"}, "results: 'all passed' is not of type 'array'"),
    ({**sample_report(), "results": [{"check": {"id": "X"}}]}, "results[0]"),
    ({**sample_report(), "run": {**sample_report()["run"], "complete": "yes"}}, "run.complete"),
    ({**sample_report(), "specs": {"npdb": "v1"}}, "specs.npdb"),
], ids=["list", "string", "null", "empty", "embedded-signature", "short-verdict", "results-text",
        "result-without-fields", "complete-as-text", "spec-as-text"])
def test_garbage_is_refused_naming_the_field(garbage: Any, where: str) -> None:
    with pytest.raises(ReportFormatError) as refused:
        ReportDocument.from_json(garbage)
    assert any(problem.startswith(where) for problem in refused.value.problems), refused.value
    assert str(refused.value).startswith("not a popcert report")


def test_an_edited_status_or_verdict_is_refused() -> None:
    report = sample_report()
    report["results"][0]["status"] = "passed"
    report["verdict"]["status"] = "APPROVED"
    with pytest.raises(ReportFormatError, match=r"results\[0\]\.status.*|verdict\.status"):
        ReportDocument.from_json(report)


def test_read_report_survives_hostile_files(tmp_path: Path) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe{}")
    truncated = tmp_path / "truncated.json"
    truncated.write_text(json.dumps(sample_report())[:500], encoding="utf-8")
    for path in (deep, binary, truncated):
        with pytest.raises(ReportFormatError):
            read_report(path)
    evidence_deep = sample_report()
    evidence_deep["results"][0]["evidence"][0]["data"]["body"] = "{}"
    text = json.dumps(evidence_deep).replace('"body": "{}"', '"body": ' + "[" * 5000 + "]" * 5000)
    nested = tmp_path / "nested.json"
    nested.write_text(text, encoding="utf-8")
    body = read_report(nested).results[0].evidence[0].data["body"]  # cut, not a RecursionError
    assert "nested deeper than" in json.dumps(body)
    good = tmp_path / "report.json"
    good.write_bytes(canonical_json(sample_report()))
    assert read_report(good).canonical_bytes() == good.read_bytes()


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a JSON value (dict keys and list indexes), the root excluded."""
    found = []
    items = value.items() if isinstance(value, dict) else \
        enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        found.append((*prefix, key))
        found.extend(_paths(item, (*prefix, key)))
    return found


SAMPLE_PATHS = _paths(sample_report())
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(SAMPLE_PATHS), json_values | st.just(DELETE)),
                min_size=1, max_size=3))
def test_any_edit_reads_back_exactly_or_is_refused(edits: list[tuple[tuple[Any, ...], Any]]) -> None:
    """An attacker's edit of report.json: never a crash, never a silently different document."""
    report = sample_report()
    for path, value in edits:
        parent: Any = report
        try:
            for key in path[:-1]:
                parent = parent[key]
            if value is DELETE:
                del parent[path[-1]]
            else:
                parent[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue  # an earlier edit removed or replaced this place
    try:
        document = ReportDocument.from_json(copy.deepcopy(report))
    except ReportFormatError as refused:
        assert refused.problems
        return
    assert document.to_json() == report
