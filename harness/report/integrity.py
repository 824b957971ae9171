"""Does a report's content hold together? What `popcert verify` checks besides the signature, and
what `popcert sign` and `certificate issue` refuse: the verdict re-derived over popcert's own
registry and profile, every registered check present with its result, the results' digest chain
(and results.jsonl's, when it lies beside the report), and a run mode that matches its banner.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.report.banner import MODES, banner_for
from harness.report.chain import report_chain_problems
from harness.report.document import ReportDocument, ReportFormatError
from harness.report.rederive import coverage_problems, verdict_contradictions

RESULTS_FILE = "results.jsonl"


def content_problems(report: dict[str, Any], *, report_path: Path | None = None) -> list[str]:
    """Every reason the schema-valid report JSON ``report`` is not what its run produced."""
    try:
        document = ReportDocument.from_json(report)
    except ReportFormatError as broken:
        return [str(broken)]
    beside = report_path.with_name(RESULTS_FILE) if report_path is not None else None
    return [*verdict_contradictions(document), *coverage_problems(document),
            *report_chain_problems(report, beside), *mode_problems(document)]


def mode_problems(report: ReportDocument) -> list[str]:
    """run.mode must be recorded and agree with run.quick and the banner."""
    mode, quick = report.run.mode, report.run.quick
    if mode is None:
        return [("run.mode is missing: the report does not say whether it was a full, quick or "
                 "demo run — re-run the certification with this popcert")]
    problems = []
    if mode not in MODES:
        problems.append(f"run.mode {mode!r} is not one of {', '.join(MODES)}")
    if quick and mode == "full":
        problems.append("run.quick is true but run.mode says full: the run mode was edited")
    expected = banner_for(mode, quick)
    if expected is not None and dict(report.banner or {}) != expected:
        problems.append("the report of a demo or quick run lacks its banner "
                        f"\"{expected['en']}\": it was removed after the run")
    if expected is None and report.banner is not None:
        problems.append("a full run's report carries the demo/quick banner")
    return problems
