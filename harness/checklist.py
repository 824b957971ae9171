"""`popcert checks`: the registered checks, what they enforce, and where each one lives.

``--where ID`` answers a newcomer's first question in one step: the check's code, the tests that
exercise it and the defect switch of the reference system that proves it can fail.
"""

from __future__ import annotations

import ast
import inspect
import json
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from harness.checks import Check
from harness.errors import PopcertError
from harness.profiles import load_profile
from harness.registry import Registry, default_registry

REPO_ROOT = Path(__file__).resolve().parent.parent
TESTS = REPO_ROOT / "tests"


def city_system_dir() -> Path:
    """The reference system's folder: examples/city_system in a checkout, the installed
    ``popcert_city`` package otherwise."""
    import popcert_city

    return Path(popcert_city.__file__).resolve().parent


def known_defects() -> dict[str, str]:
    from popcert_city.defects import DEFECTS

    return dict(DEFECTS)


def print_checks(profile_name: str, *, coverage: bool, as_json: bool,
                 registry: Registry | None = None) -> int:
    """Print the registry; with ``coverage``, exit 1 if a mandatory check has no defect switch
    or a check names no requirement of the catalogue."""
    registry = registry or default_registry()
    profile = load_profile(profile_name)
    defects = known_defects()
    rows = sorted(registry, key=lambda c: (c.suite, c.id))
    uncovered = [c.id for c in rows if profile.is_mandatory(c.id)
                 and not any(d in defects for d in c.defects)]
    if as_json:
        print(json.dumps([{**c.to_json(), "mandatory": profile.is_mandatory(c.id)}
                          for c in rows], ensure_ascii=False, indent=2))
        return 0
    table = Table(title=f"popcert checks (profile {profile.name})", show_lines=False)
    for column in ("id", "suite", "severity", "mandatory", "requirements"):
        table.add_column(column, overflow="fold")
    if coverage:
        table.add_column("defect switch", overflow="fold")
    for c in rows:
        cells = [c.id, c.suite, str(c.severity), "yes" if profile.is_mandatory(c.id) else "no",
                 ", ".join(c.requirements) or c.requirement]
        if coverage:
            cells.append(", ".join(c.defects) or "[red]none[/]")
        table.add_row(*cells)
    console = Console(width=200)
    console.print(table)
    if not coverage:
        return 0
    console.print(f"{len(rows) - len(uncovered)} of {len(rows)} checks have a defect switch "
                  f"in examples/city_system/defects.py")
    failed = bool(uncovered)
    if uncovered:
        console.print(f"[red]mandatory checks without a defect switch:[/] {', '.join(uncovered)}")
    failed |= _print_requirement_coverage(console, rows)
    return 1 if failed else 0


MATRIX = TESTS / "integration" / "test_detection_matrix.py"
MATRIX_ID = "tests/integration/test_detection_matrix.py"


def _error_switches() -> set[str]:
    """The matrix's switches whose checks can only err (its ``ERROR_SWITCHES`` literal), read
    from the test file's text: the harness does not import its own tests."""
    if not MATRIX.is_file():
        return set()
    for line in MATRIX.read_text(encoding="utf-8").splitlines():
        if line.startswith("ERROR_SWITCHES ="):
            return {str(s) for s in ast.literal_eval(line.split("=", 1)[1].strip())}
    return set()


def matrix_row(switch: str, error_switches: set[str]) -> str:
    """The pytest node id of the detection-matrix row that proves ``switch`` is caught."""
    test = ("test_error_switch_is_never_a_pass" if switch in error_switches
            else "test_switch_is_caught_by_exactly_its_checks")
    return f"{MATRIX_ID}::{test}[{switch}]"


def detection_lines(rows: list[Check], defects: dict[str, str]) -> list[str]:
    """requirement → check → defect switch → detection-matrix row, one line each, for every
    requirement a check enforces (catalogue order); a check without a switch says so."""
    from harness.requirements import coverage

    by_id = {c.id: c for c in rows}
    errors = _error_switches()
    out = ["requirement -> check -> defect switch -> detection-matrix row"]
    for row in coverage(rows):
        for check_id in row.check_ids:
            switches = [d for d in by_id[check_id].defects if d in defects]
            if not switches:
                out.append(f"{row.requirement_id}  {check_id}  (no defect switch)  -")
            out.extend(f"{row.requirement_id}  {check_id}  {switch}  {matrix_row(switch, errors)}"
                       for switch in switches)
    return out


def _print_requirement_coverage(console: Console, rows: list[Check]) -> bool:
    """Requirement ids → checks → defect switches → matrix rows, then the requirements no check
    enforces (attested, untestable or unmapped); True when a check names no id or one the
    catalogue lacks."""
    from harness.requirements import (
        coverage,
        format_coverage,
        load_catalogue,
        validate_check_requirements,
    )

    for line in detection_lines(rows, known_defects()):
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    catalogue = load_catalogue()
    for row in coverage(rows):
        entry = catalogue.get(row.requirement_id)
        if not row.covered and entry is not None:
            how = entry.manual or "enforced by no check, not attested, no reason (unmapped)"
            console.print(f"{row.requirement_id}  {how}", markup=False, highlight=False,
                          soft_wrap=True)
    console.print(format_coverage(coverage(rows)).splitlines()[-1], markup=False, highlight=False)
    problems = validate_check_requirements(rows)
    for problem in problems:
        console.print(f"[red]{problem}[/]")
    return bool(problems)


def print_spec_coverage(registry: Registry | None = None) -> int:
    """``popcert checks --spec-coverage``; exit 1 while anything is unmapped."""
    from harness.spec_coverage import format_spec_coverage, spec_coverage

    report = spec_coverage(registry or default_registry())
    print(format_spec_coverage(report))
    return 1 if report.unmapped else 0


@dataclass(frozen=True)
class Whereabouts:
    check: Check
    code: str  # path:line of the check function
    tests: list[str]  # test files that name the check id or one of its defect switches
    defects: list[str]  # "switch: path:line" where the reference system implements it


def where(check_id: str, registry: Registry | None = None) -> Whereabouts:
    registry = registry or default_registry()
    found = registry.get(check_id.strip().upper())
    if found is None:
        raise PopcertError(f"no check {check_id!r}; `popcert checks` lists them all")
    source = Path(inspect.getsourcefile(found.function) or "?")
    line = inspect.getsourcelines(found.function)[1]
    # The suite's own tests first (they import its package; they build their defect map from
    # the registry, so they need not name the check), then any other test naming the check or
    # its switch (report fixtures, the reference system's switch tests).
    importing = _files_naming(TESTS, [f"harness.suites.{found.suite} ",
                                      f"harness.suites.{found.suite}."])
    named = _files_naming(TESTS, [found.id, *found.defects])
    tests = importing + [path for path in named if path not in importing]
    return Whereabouts(found, f"{_relative(source)}:{line}", tests,
                       [f"{switch}: {_implementation(switch)}" for switch in found.defects])


def print_where(check_id: str) -> int:
    found = where(check_id)
    c = found.check
    print(f"{c.id} ({c.suite}, {c.severity}): {c.title}")
    print(f"  requirements: {', '.join(c.requirements) or c.requirement}")
    print(f"  code:   {found.code}")
    print(f"  tests:  {', '.join(found.tests) or 'none found under tests/'}")
    print(f"  defect: {'; '.join(found.defects) or 'no defect switch'}")
    return 0


def _files_naming(root: Path, needles: list[str]) -> list[str]:
    if not root.is_dir():
        return []
    hits = []
    for path in sorted(root.rglob("*.py")):
        text = path.read_text(encoding="utf-8", errors="replace")
        if any(needle in text for needle in needles):
            hits.append(_relative(path))
    return hits


def _implementation(switch: str) -> str:
    """Where the reference system reads the switch (not where defects.py declares it)."""
    quoted = (f'"{switch}"', f"'{switch}'")
    for path in sorted(city_system_dir().rglob("*.py")):
        if path.name == "defects.py":
            continue
        for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if any(q in text for q in quoted):
                return f"{_relative(path)}:{number}"
    return "examples/city_system/defects.py"


def _relative(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)
