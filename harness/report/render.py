"""Write every report format from the one canonical report document.

``render_all(document, out_dir)`` is what the engine calls after every suite. report.json is
written as ``canonical_json(document.to_json())`` so the detached signature verifies over the file
itself.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from harness.report.document import ReportDocument, ReportFormatError
from harness.report.html import render_html
from harness.report.junit import render_junit
from harness.report.sarif import render_sarif
from harness.signing.canonical import canonical_json
from harness.untrusted import MAX_REPORT_DEPTH, clip_depth

__all__ = ["FILE_NAMES", "canonical_json", "render_all"]

# The file names CI pipelines publish (examples/ci/ must use exactly these).
FILE_NAMES = {"html": "report.html", "json": "report.json", "junit": "junit.xml",
              "sarif": "report.sarif"}
DEFAULT_FORMATS = ("html", "json", "junit", "sarif")


class ReportSchemaError(ValueError):
    """The engine produced a report that breaks reports/schema/report.schema.json (a harness bug)."""


def _write(path: Path, payload: bytes) -> Path:
    # Write then rename: a reader (or a signer) never sees half a report.
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(payload)
    os.replace(temporary, path)
    return path


def render_all(document: ReportDocument | dict[str, Any], out_dir: Path,
               formats: Iterable[str] = DEFAULT_FORMATS, *, check: bool = True) -> dict[str, Path]:
    """Render the requested formats into ``out_dir``; returns {format: path}.

    ``document`` may also be report JSON (a report read back, a test's sample): it is checked
    against the schema like the engine's own. ``check=False`` skips that check for the engine's
    own typed document (its evidence is already cut to depth): the engine rewrites the report
    after every suite so an interrupted run leaves one, and checks only the last.
    """
    wanted = list(formats)
    unknown = [f for f in wanted if f not in FILE_NAMES]
    if unknown:
        raise ValueError(f"unknown report format(s) {unknown}; choose from {sorted(FILE_NAMES)}")
    if not check and isinstance(document, ReportDocument):
        return _render(document, out_dir, wanted)
    # A report read back from disk may carry anything; our own evidence is already cut at
    # MAX_EVIDENCE_DEPTH, so this changes nothing the engine wrote and keeps every renderer safe.
    raw = document.to_json() if isinstance(document, ReportDocument) else document
    report = clip_depth(raw, MAX_REPORT_DEPTH)
    if "signature" in report:
        raise ReportSchemaError("the report must not embed its signature (it is report.json.sig)")
    try:
        document = ReportDocument.from_json(report)  # what the renderers read: checked, clipped
    except ReportFormatError as broken:
        raise ReportSchemaError("report does not match report.schema.json: "
                                + "; ".join(broken.problems)) from None
    return _render(document, out_dir, wanted)


def _render(document: ReportDocument, out_dir: Path, wanted: list[str]) -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    writers = {
        "json": lambda: canonical_json(document.to_json()),
        "html": lambda: render_html(document).encode("utf-8"),
        "junit": lambda: render_junit(document),
        "sarif": lambda: json.dumps(render_sarif(document), indent=2, ensure_ascii=False).encode("utf-8"),
    }
    return {fmt: _write(out_dir / FILE_NAMES[fmt], writers[fmt]()) for fmt in wanted}
