"""The line a run ends with: verdict, how many checks passed, failed, errored and were skipped,
and how long it took; the report's path follows on a line of its own (runner.print_verdict)."""

from __future__ import annotations

from collections.abc import Mapping

from harness.report.document import ReportDocument

# The order a person reads them in: what blocks first.
COUNTED = (("fail", "failed"), ("error", "errors"), ("pass", "passed"), ("skip", "skipped"))


def counts_line(by_status: Mapping[str, int]) -> str:
    """``3 failed, 1 error, 45 passed, 30 skipped``."""
    parts = [f"{int(by_status.get(status, 0))} {word}" for status, word in COUNTED]
    return ", ".join(parts).replace("1 errors", "1 error")


def duration_text(seconds: float) -> str:
    """``8.4 s``, ``1 min 11 s``, ``1 h 02 min``: what a person reads at the end of a run."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    return f"{whole // 3600} h {whole % 3600 // 60:02d} min"


def end_summary(status: str, document: ReportDocument | None, *, inconclusive: bool) -> str:
    """``NOT CERTIFIED: 3 failed, 0 errors, 45 passed, 30 skipped in 1 min 11 s`` (plain text)."""
    head = status + (" (inconclusive)" if inconclusive else "")
    if not isinstance(document, ReportDocument):  # a caller without the document (tests)
        return head
    counts = counts_line(document.summary.by_status)
    took = document.run.duration_s
    return f"{head}: {counts}" + (f" in {duration_text(took)}" if took is not None else "")
