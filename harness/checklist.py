"""`popcert checks`: the registered checks, what they enforce, and which defect switch proves each."""

from __future__ import annotations

import json

from rich.console import Console
from rich.table import Table

from harness.checks import REGISTRY
from harness.profiles import load_profile
from harness.suites import load_all_suites


def known_defects() -> dict[str, str]:
    from examples.city_system.defects import DEFECTS

    return dict(DEFECTS)


def print_checks(profile_name: str, *, coverage: bool, as_json: bool) -> int:
    """Print the registry; with ``coverage``, exit 1 if a mandatory check has no defect switch."""
    load_all_suites()
    profile = load_profile(profile_name)
    defects = known_defects()
    rows = sorted(REGISTRY.values(), key=lambda c: (c.suite, c.id))
    uncovered = [c.id for c in rows if profile.is_mandatory(c.id)
                 and not any(d in defects for d in c.defects)]
    if as_json:
        print(json.dumps([{**c.to_json(), "mandatory": profile.is_mandatory(c.id)}
                          for c in rows], ensure_ascii=False, indent=2))
        return 0
    table = Table(title=f"popcert checks (profile {profile.name})", show_lines=False)
    for column in ("id", "suite", "severity", "mandatory", "requirement"):
        table.add_column(column, overflow="fold")
    if coverage:
        table.add_column("defect switch", overflow="fold")
    for c in rows:
        cells = [c.id, c.suite, str(c.severity), "yes" if profile.is_mandatory(c.id) else "no",
                 c.requirement]
        if coverage:
            cells.append(", ".join(c.defects) or "[red]none[/]")
        table.add_row(*cells)
    console = Console(width=200)
    console.print(table)
    if coverage:
        console.print(f"{len(rows) - len(uncovered)} of {len(rows)} checks have a defect switch "
                      f"in examples/city_system/defects.py")
        if uncovered:
            console.print(f"[red]mandatory checks without a defect switch:[/] "
                          f"{', '.join(uncovered)}")
            return 1
    return 0
