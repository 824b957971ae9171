"""`popcert load capacity`: find the rate a system sustains before a profile threshold breaks.

Useful to vendors before certification; it is not a certification run and writes no verdict.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from harness.commands.errors import EXIT_OK
from harness.config import load_config
from harness.live_view import LiveView, ViewStatus
from harness.profiles import load_profile
from harness.run_context import RunContext
from harness.runner import npdb_for


def run_capacity_search(config_path: Path, *, start_rps: float, factor: float, max_rps: float,
                        step_duration_s: float, max_steps: int, workers: int) -> int:
    from harness.suites.load.capacity import capacity_search
    from harness.suites.load.context import thresholds_for

    config = load_config(config_path)
    out_dir = config.output_dir / "capacity" / datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    out_dir.mkdir(parents=True, exist_ok=True)
    console = Console(stderr=True)
    with npdb_for(config) as npdb:
        # Not a certification: its thresholds are never a quick run's.
        run = RunContext.for_run(config, load_profile(config.profile_name), out_dir, npdb=npdb,
                                 workdir=out_dir, quick=False)
        view = LiveView(console)  # each step's users, req/s, p95 and time left, as certify shows
        run.live = ViewStatus(view)
        view.start("load", "capacity search")
        try:
            result = capacity_search(run, thresholds_for(run), out_dir, start_rps=start_rps,
                                     factor=factor, max_rps=max_rps,
                                     step_duration_s=step_duration_s, max_steps=max_steps,
                                     workers=workers)
        finally:
            view.finish("load")
    table = Table(title=f"capacity search against {config.target.base_url}")
    for column in ("step", "result"):
        table.add_column(column)
    for index, step in enumerate(result.steps, 1):
        table.add_row(str(index), json.dumps(step.to_json(), ensure_ascii=False))
    console.print(table)
    low, high = result.bracket
    (out_dir / "capacity.json").write_text(json.dumps(
        {"sustainable_rps": result.sustainable_rps, "limited_by": list(result.limited_by),
         "holds_at_rps": low, "breaks_at_rps": high, "confidence": result.confidence,
         "steps": [s.to_json() for s in result.steps]}, indent=2), encoding="utf-8")
    print(f"sustainable rate: {result.sustainable_rps:.1f} req/s"
          + (f" (broke on {', '.join(result.limited_by)})" if result.limited_by else ""))
    print(f"confidence: {result.confidence}")
    return EXIT_OK
