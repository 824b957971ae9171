"""One lab run per defect switch of the reference system, shared by every test that judges it.

The detection matrix (tests/integration/test_detection_matrix.py) and the suite tests
(tests/suites/test_auth.py, test_conformance.py, test_scenarios.py) each assert their own things
about a switch: the matrix that exactly the declared checks fail through the engine, the suite
tests what each failure carries as evidence. The run (a mock NPDB, the city system with the switch
on, a quick engine run of the suites owning those checks) is the expensive part, so it happens once
per switch: every test of a switch is in the xdist group ``switch:<name>``, which runs on one
worker, and the first test's run is kept (its report file) for the others.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.engine import Engine
from harness.lab import Lab, city_options_for
from harness.registry import default_registry

STATIC_SUITES = {"firewall", "sast"}
CORE = ("birth-registration", "marriage-registration")
RATE = ("faults-rate-limit",)
FAULTS = ("faults-transient", "faults-rate-limit")
# The scenarios a scenario switch's row drives (a --quick run may choose them, harness/config.py):
# the ones that exercise the switch plus the fault-free core. Every other switch drives them all,
# and so does the reference system's certification.
SCENARIOS_FOR: dict[str, tuple[str, ...]] = {
    "npdb.shared_credentials": CORE + RATE,
    "npdb.missing_purpose_code": CORE,
    "npdb.overfetch_fields": CORE,
    "npdb.overfetch_purpose_fields": CORE,
    "npdb.request_id_not_uuid": CORE,
    "npdb.redundant_calls": CORE,
    "scenario.wrong_outcome": CORE,
    "scenario.completed_without_outcome": CORE,
    "scenario.not_found_approved": ("death-registration", "permanent-residence"),
    "npdb.no_retry": CORE + RATE,
    "npdb.loses_dossier_on_failure": CORE + FAULTS,
    "npdb.ignores_retry_after": CORE + RATE,
}

_REPORTS: dict[str, Path] = {}


def expected_failures(switch: str) -> set[str]:
    return {c.id for c in default_registry() if switch in c.defects}


def suites_for(checks: set[str]) -> list[str]:
    return sorted({default_registry()[c].suite for c in checks})


def profile_for(suites: list[str]) -> str:
    # The mTLS checks apply only under a profile that requires mTLS, such as province.
    return "province" if "auth" in suites else "district"


def run_lab(tmp: Path, defects: frozenset[str], suites: list[str],
            scenarios: tuple[str, ...] = ()) -> tuple[dict[str, Any], Path]:
    """A quick engine run of ``suites`` against a lab whose city system has ``defects`` on:
    the report and the file it was written to."""
    level = profile_for(suites)
    servers = not set(suites) <= STATIC_SUITES
    with Lab(tmp / "lab", defects, servers=servers,
             city_options=city_options_for(level)) as lab:
        config = lab.run_config(suites=suites, quick=True, level=level,
                                output_dir=tmp / "runs", scenarios=scenarios)
        outcome = Engine(config, npdb=lab.npdb).run()
    return outcome.report, outcome.run_dir / "report.json"


def switch_report(switch: str, factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The report of the run with ``switch`` alone, run once on this worker."""
    if switch not in _REPORTS:
        suites = suites_for(expected_failures(switch))
        report, path = run_lab(factory.mktemp("switch"), frozenset({switch}), suites,
                               SCENARIOS_FOR.get(switch, ()))
        _REPORTS[switch] = path
        return report
    loaded: dict[str, Any] = json.loads(_REPORTS[switch].read_text(encoding="utf-8"))
    return loaded


def switch_param(switch: str, *values: Any) -> Any:
    """A parametrize entry for ``switch`` in the switch's xdist group (one run per switch)."""
    return pytest.param(switch, *values, id=switch,
                        marks=pytest.mark.xdist_group(f"switch:{switch}"))


def results_of(report: dict[str, Any], suite: str) -> dict[str, dict[str, Any]]:
    """``suite``'s results in ``report``, by check id."""
    return {r["check"]["id"]: r for r in report["results"] if r["check"]["suite"] == suite}
