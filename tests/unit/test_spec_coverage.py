"""Spec coverage (harness/spec_coverage.py, `popcert checks --spec-coverage`): every line of the
specs that carries an obligation word and every documented response is mapped to a requirement,
every requirement is enforced by a check, attested or says why it is untestable; a rule added to a
spec without a mapping fails here."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from harness import resources
from harness.errors import ConfigError
from harness.registry import default_registry
from harness.requirements import Catalogue, load_catalogue, read_catalogue
from harness.spec_coverage import (
    CONNECTION,
    NOT_OBLIGATION_ITEMS,
    NOT_OBLIGATIONS,
    NPDB,
    SPEC_DOCUMENTS,
    SpecCoverage,
    documented_responses,
    format_spec_coverage,
    obligation_lines,
    spec_coverage,
    spec_items,
    undocumented_methods,
)


@pytest.fixture(scope="module")
def report() -> SpecCoverage:
    return spec_coverage(default_registry())


def test_every_obligation_line_and_documented_response_is_mapped(report: SpecCoverage) -> None:
    # A spec line with an obligation word, a documented response, an undocumented method or a
    # requirement with no check, attestation or reason breaks the build here.
    unmapped_lines = {(d.document, o.line) for d in report.documents for o in d.unmapped_lines}
    unmapped_pairs = {(d.document, r.pair) for d in report.documents for r in d.unmapped_responses}
    unmapped_ids = {r.id for d in report.documents for r in d.unmapped_requirements}
    unmapped_items = {(d.document, i.line) for d in report.documents for i in d.unmapped_items}
    assert sorted(unmapped_items) == []
    assert sorted(unmapped_lines) == []
    assert sorted(unmapped_pairs) == []
    assert sorted(unmapped_ids) == []
    assert report.problems == []


def test_the_inventory_is_large_and_the_report_ends_with_unmapped_0(report: SpecCoverage) -> None:
    assert report.obligations >= 120
    text = format_spec_coverage(report)
    assert text.splitlines()[-1].endswith("unmapped 0")
    assert report.unmapped == 0
    # each manual mapping is listed with its reason
    for document in report.documents:
        for requirement in document.untestable:
            assert f"untestable {requirement.id}: {requirement.untestable}" in text
        for requirement in document.attested:
            assert f"attested   {requirement.id}: {requirement.attestation}" in text


def test_the_command_prints_the_report_and_exits_1_while_anything_is_unmapped(
        report: SpecCoverage) -> None:
    result = subprocess.run([str(Path(sys.executable).parent / "popcert"), "checks",
                             "--spec-coverage"], capture_output=True, text=True, timeout=120,
                            check=False)
    assert result.stdout.strip().splitlines()[-1].endswith(f"unmapped {report.unmapped}")
    assert "specs/connection/v1/openapi.yaml\n  documented responses exercised" in result.stdout
    assert result.returncode == (1 if report.unmapped else 0)


def test_responses_are_read_per_operation_with_their_lines() -> None:
    pairs = {r.pair: r.line for r in documented_responses(CONNECTION)}
    assert pairs["createDossier 413"] == 86 and pairs["receiveNotification 422"] == 194
    # a link's operationId (GetDossierById -> getDossier) opens no section of its own
    assert "getDossier 413" not in pairs and pairs["getDossier 404"] == 152
    assert len(pairs) == 36
    assert len(documented_responses(NPDB)) == 44


def test_structured_items_are_read_with_their_blocks() -> None:
    items = {(i.kind, i.label): i.lines for i in spec_items(CONNECTION)}
    assert items[("parameter", "Idempotency-Key (header)")] == tuple(range(226, 235))
    assert items[("parameter", "limit (query)")] == (106, 107, 108, 109, 110)
    assert items[("header", "Location")] == (65, 66, 67, 68)
    assert items[("format", "dossier_id: uuid")] == (427,)
    with_certificate = [i.lines for i in spec_items(CONNECTION)
                        if i.label == "nationalToken: [dossier.read] + portalCertificate: []"]
    assert with_certificate == [(98, 99), (132, 133)]  # listDossiers, getDossier
    assert ("security", "none (security: [])") in items
    npdb = {(i.kind, i.label) for i in spec_items(NPDB)}
    assert {("parameter", "X-Purpose-Code (header)"), ("parameter", "X-Request-Id (header)"),
            ("header", "Retry-After"), ("format", "callback_url: uri")} <= npdb


def test_undocumented_methods_are_derived_per_path_of_the_served_spec() -> None:
    methods = {i.line: i.label for i in undocumented_methods(CONNECTION)}
    assert methods == {
        36: "PUT, PATCH, DELETE /connection/v1/dossiers (undocumented)",
        124: "POST, PUT, PATCH, DELETE /connection/v1/dossiers/{dossier_id} (undocumented)",
        155: "GET, PUT, PATCH, DELETE /connection/v1/notifications (undocumented)",
        197: "POST, PUT, PATCH, DELETE /connection/v1/health (undocumented)"}


def test_the_allow_list_is_small_and_names_real_obligation_lines() -> None:
    assert len(NOT_OBLIGATIONS) + len(NOT_OBLIGATION_ITEMS) <= 10
    for (document, line), reason in NOT_OBLIGATION_ITEMS.items():
        assert line in {i.line for i in spec_items(document)}, (document, line)
        assert len(reason) > 20
    for (document, line), reason in NOT_OBLIGATIONS.items():
        assert line in {o.line for o in obligation_lines(document)}, (document, line)
        assert len(reason) > 20


def _copy_specs(tmp_path: Path) -> Path:
    for document in SPEC_DOCUMENTS:
        target = tmp_path / document
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(resources.data_root() / document, target)
    return tmp_path


def _insert(path: Path, after: int, text: str) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    lines.insert(after, text)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_a_new_rule_or_response_without_a_mapping_shows_as_unmapped(tmp_path: Path) -> None:
    root = _copy_specs(tmp_path)
    spec = root / CONNECTION
    # A new sentence at the end of info.description, and a 410 on getHealth (line 210 '429').
    _insert(spec, 209, "        '410': {$ref: '#/components/responses/NotFound'}")
    _insert(spec, 17, "    Dossiers are never deleted.")  # becomes line 18, which no entry cites
    catalogue = load_catalogue()
    report = spec_coverage(default_registry(), catalogue, root=root)
    connection = report.documents[0]
    assert any(o.text == "Dossiers are never deleted." for o in connection.unmapped_lines)
    assert "getHealth 410" in {r.pair for r in connection.unmapped_responses}
    # a new documented header in a fresh copy: the 201's Retry-After, on line 69 (no entry cites it)
    fresh = _copy_specs(tmp_path / "fresh")
    _insert(fresh / CONNECTION, 68, "            Retry-After: {$ref: '#/components/headers/RetryAfter'}")
    again = spec_coverage(default_registry(), catalogue, root=fresh).documents[0]
    assert [(i.kind, i.label, i.line) for i in again.unmapped_items
            if i.line == 69] == [("header", "Retry-After", 69)]
    assert report.unmapped > 0
    assert format_spec_coverage(report).splitlines()[-1].endswith(f"unmapped {report.unmapped}")


def _check(check_id: str, *ids: str) -> SimpleNamespace:
    return SimpleNamespace(id=check_id, requirements=ids)


ENTRY = """\
version: "1"
requirements:
  - id: CONN-X
    text: {vi: "Quy tắc thử.", en: A test rule.}
    source: {document: specs/connection/v1/openapi.yaml, section: info, line: 17, quote: "64 KiB"}
"""


def _catalogue(tmp_path: Path, extra: str) -> Catalogue:
    path = tmp_path / "requirements.yaml"
    path.write_text(ENTRY + extra, encoding="utf-8")
    return read_catalogue(path)


@pytest.mark.parametrize(("extra", "field", "words"), [
    ("    attestation: connection-plan\n    untestable: no way to observe it from outside\n",
     "requirements.0", "attested or untestable, not both"),
    ("    untestable: no way to observe it from outside\n    provokes: [createDossier 413]\n",
     "requirements.0", "only a check provokes a response"),
    ("    responses: [createDossier]\n", "requirements.0", "'<operationId> <status>'"),
    ("    untestable: short\n", "requirements.0.untestable", "at least 20 characters"),
])
def test_a_mapping_that_cannot_hold_is_a_one_line_error(tmp_path: Path, extra: str, field: str,
                                                        words: str) -> None:
    with pytest.raises(ConfigError) as raised:
        _catalogue(tmp_path, extra)
    assert raised.value.field.startswith(field)
    assert words in raised.value.one_line()


def test_mapping_problems_are_reported(tmp_path: Path) -> None:
    attested = _catalogue(tmp_path, "    attestation: connection-plan\n")
    both = spec_coverage([_check("AUTH-X", "CONN-X")], attested)
    assert both.problems == ["CONN-X: enforced by AUTH-X and also attestation: keep one mapping"]
    unknown = _catalogue(tmp_path, "    attestation: coffee-machine\n")
    assert "no manual item of the profiles" in spec_coverage([], unknown).problems[0]
    provoked = _catalogue(tmp_path, "    provokes: [createDossier 418]\n")
    problems = spec_coverage([_check("AUTH-X", "CONN-X")], provoked).problems
    assert problems == [f"{CONNECTION}: 'createDossier 418' is no documented response of the spec"]
    orphan = spec_coverage([], _catalogue(tmp_path, "    provokes: [createDossier 413]\n"))
    assert orphan.problems == ["CONN-X: provokes ['createDossier 413'] but no check names it"]
    assert [r.id for r in orphan.documents[0].unmapped_requirements] == ["CONN-X"]


def test_exercised_means_provoked_by_an_enforced_requirement(tmp_path: Path) -> None:
    catalogue = _catalogue(tmp_path, "    responses: [createDossier 400]\n"
                                     "    provokes: [createDossier 413]\n")
    report = spec_coverage([_check("AUTH-BODY-LIMIT", "CONN-X")], catalogue)
    connection = report.documents[0]
    assert connection.exercised == {"createDossier 413"}
    assert {"createDossier 400", "createDossier 413"} & {
        r.pair for r in connection.unmapped_responses} == set()
