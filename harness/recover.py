"""Rebuild a run's report from results.jsonl, e.g. after the harness was killed with SIGKILL.

The rebuilt report is always INCOMPLETE: we cannot know which checks the run would still have done.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

from harness.config import RunConfig
from harness.engine import write_report_files
from harness.errors import PopcertError
from harness.profiles import load_profile
from harness.registry import default_registry
from harness.report_model import (
    RecordedResult,
    RunEnd,
    build_report,
    gather_run_facts,
    locate_findings,
)
from harness.run_context import run_id_for
from harness.untrusted import MAX_REPORT_DEPTH, cut_deep_json


def rebuild_report(run_dir: Path) -> dict[str, Path]:
    results_file, config_file = run_dir / "results.jsonl", run_dir / "config.json"
    if not results_file.exists() or not config_file.exists():
        raise PopcertError(f"{run_dir}: not a popcert run folder (no results.jsonl/config.json)")
    registry = default_registry()
    config = RunConfig.model_validate_json(config_file.read_text(encoding="utf-8"))
    facts = gather_run_facts(config, load_profile(config.profile_name), registry.ids(),
                             run_id=run_id_for(run_dir),
                             started=datetime.fromtimestamp(config_file.stat().st_mtime, UTC),
                             today=date.today(), command=f"popcert report {run_dir}")
    records = []
    for line in results_file.read_text(encoding="utf-8").splitlines():
        try:
            # Cut before parsing: evidence nested thousands deep must not stop the rebuild.
            record = RecordedResult.from_json(
                json.loads(cut_deep_json(line, MAX_REPORT_DEPTH)), registry)
        except (ValueError, KeyError, TypeError):
            continue  # the line being written when the process died
        records.append(locate_findings(record, facts))
    document = build_report(facts, records, RunEnd(
        complete=False, interrupted="the harness stopped; report rebuilt from results.jsonl"))
    return write_report_files(document, run_dir)
