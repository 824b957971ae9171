"""Rebuild a run's report from results.jsonl, e.g. after the harness was killed with SIGKILL.

The rebuilt report is always INCOMPLETE: we cannot know which checks the run would still have done.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from harness.checks import Check, CheckResult, Evidence, Severity, Status
from harness.config import RunConfig
from harness.engine import write_report_files
from harness.errors import PopcertError
from harness.profiles import load_profile
from harness.report.untrusted import MAX_REPORT_DEPTH, cut_deep_json
from harness.report_model import RecordedResult, build_report
from harness.registry import Registry, default_registry
from harness.run_context import run_id_for


def _record_from_json(raw: dict[str, Any], registry: Registry) -> RecordedResult:
    meta = raw["check"]
    check = registry.get(meta["id"]) or Check(
        meta["id"], meta["suite"], meta["title"], Severity(meta["severity"]),
        meta["requirement"], lambda ctx: CheckResult.errored("not re-runnable"),
        tuple(meta.get("defects", ())))
    result = CheckResult(Status(raw["status"]), raw["summary"],
                         tuple(Evidence.from_json(e) for e in raw.get("evidence", [])),
                         dict(raw.get("measurements", {})))
    return RecordedResult(check, result, bool(raw["mandatory"]), raw["started_at"],
                          float(raw["duration_s"]))


def rebuild_report(run_dir: Path) -> dict[str, Path]:
    results_file, config_file = run_dir / "results.jsonl", run_dir / "config.json"
    if not results_file.exists() or not config_file.exists():
        raise PopcertError(f"{run_dir}: not a popcert run folder (no results.jsonl/config.json)")
    registry = default_registry()
    config = RunConfig.model_validate_json(config_file.read_text(encoding="utf-8"))
    records = []
    for line in results_file.read_text(encoding="utf-8").splitlines():
        try:
            # Cut before parsing: evidence nested thousands deep must not stop the rebuild.
            records.append(_record_from_json(
                json.loads(cut_deep_json(line, MAX_REPORT_DEPTH)), registry))
        except (ValueError, KeyError, TypeError):
            continue  # the line being written when the process died
    started = datetime.fromtimestamp(config_file.stat().st_mtime, UTC)
    report = build_report(config, load_profile(config.profile_name), records, registry.ids(),
                          complete=False,
                          interrupted="the harness stopped; report rebuilt from results.jsonl",
                          started=started, today=date.today(),
                          run_id=run_id_for(run_dir),
                          command=f"popcert report {run_dir}")
    return write_report_files(report, run_dir)
