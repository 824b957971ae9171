"""render_all writes the four formats with the names CI publishes; report.json is canonical."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.report.document import ReportDocument
from harness.report.render import FILE_NAMES, ReportSchemaError, canonical_json, render_all
from tests.unit.report.sample_report import sample_report


def test_render_all_writes_every_format(tmp_path: Path) -> None:
    report = sample_report()
    files = render_all(report, tmp_path / "run")
    assert {k: p.name for k, p in files.items()} == FILE_NAMES
    assert files["json"].read_bytes() == canonical_json(report)
    assert all(p.stat().st_size > 0 for p in files.values())
    assert not list((tmp_path / "run").glob("*.tmp"))


def test_render_subset(tmp_path: Path) -> None:
    files = render_all(sample_report(), tmp_path, formats=("json",))
    assert list(files) == ["json"] and [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_render_refuses_a_report_that_breaks_the_schema(tmp_path: Path) -> None:
    report = sample_report()
    report["verdict"]["status"] = "OK"
    with pytest.raises(ReportSchemaError, match="verdict.status"):
        render_all(report, tmp_path)
    assert not (tmp_path / "report.json").exists()


def test_render_refuses_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="pdf"):
        render_all(sample_report(), tmp_path, formats=("pdf",))


def test_an_unchecked_typed_document_renders_the_same_files(tmp_path: Path) -> None:
    # The engine's reports between suites skip the schema check; they must not differ for it.
    document = ReportDocument.from_json(sample_report())
    checked = render_all(document, tmp_path / "checked")
    unchecked = render_all(document, tmp_path / "unchecked", check=False)
    assert {f: p.read_bytes() for f, p in checked.items()} == {
        f: p.read_bytes() for f, p in unchecked.items()}

