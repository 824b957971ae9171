"""The one table of schemathesis built-in checks (harness/suites/conformance/builtin_checks.py):
every check the installed schemathesis offers is on (judged by a registered CONF- check) or off
with a written reason, and what the runner switches on is exactly what the table says. And a run
whose answers were mostly 429 judged nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.checks import Status
from harness.registry import default_registry
from harness.suites.conformance import builtin_checks
from harness.suites.conformance.checks import verdict_for
from harness.suites.conformance.context import ConformanceContext, PublishedSpec
from harness.suites.conformance.latency import LatencyReport
from harness.suites.conformance.mapping import CHECK_IDS
from harness.suites.conformance.runner import BUILTIN_CHECKS, FuzzOutcome, FuzzPlan


def test_every_installed_schemathesis_check_is_in_the_table() -> None:
    import schemathesis

    installed = builtin_checks.installed_check_names()
    missing = builtin_checks.undecided(installed)
    assert missing == [], (f"schemathesis {schemathesis.__version__} offers checks the table does not "
                           f"decide: {missing}; add each to builtin_checks.TABLE, on or off with a reason")
    stale = sorted(builtin_checks.BY_NAME.keys() - installed)
    assert stale == [], f"the table names checks schemathesis {schemathesis.__version__} lacks: {stale}"
    assert len(installed) >= 15  # 4.32: 14 registered checks and max_response_time


def test_each_check_is_named_once_and_has_a_reason() -> None:
    names = [c.name for c in builtin_checks.TABLE]
    assert len(names) == len(set(names))
    for entry in builtin_checks.TABLE:
        assert len(entry.reason) >= 30, entry.name  # a sentence, not a placeholder


def test_checks_that_are_on_map_to_registered_conformance_checks() -> None:
    conformance = {c.id for c in default_registry().for_suite("conformance")}
    for entry in builtin_checks.TABLE:
        if entry.on:
            assert entry.check_id in conformance, entry
    assert CHECK_IDS == builtin_checks.CHECK_IDS


def test_the_runner_switches_on_exactly_the_checks_that_are_on() -> None:
    on = {c.name for c in builtin_checks.TABLE if c.on}
    # max_response_time is switched on by --max-response-time, not by name.
    assert set(BUILTIN_CHECKS) == on - {"max_response_time"}
    off = {c.name for c in builtin_checks.TABLE if not c.on}
    assert off == {"unsupported_method", "allow_header_conformance", "object_level_authorization"}
    assert "covered by AUTH-UNDOCUMENTED-METHOD" in builtin_checks.BY_NAME["unsupported_method"].reason


def test_a_check_missing_from_the_table_is_named() -> None:
    installed = builtin_checks.installed_check_names() | {"a_check_of_a_later_version"}
    assert builtin_checks.undecided(installed) == ["a_check_of_a_later_version"]
    table = [c for c in builtin_checks.TABLE if c.name != "positive_data_acceptance"]
    assert builtin_checks.undecided(installed, table) == ["a_check_of_a_later_version",
                                                          "positive_data_acceptance"]


def _context(**outcome: Any) -> ConformanceContext:
    plan = FuzzPlan(spec_path=Path("spec.yaml"), base_url="https://127.0.0.1:1/connection/v1",
                    token="t", workdir=Path("/tmp/unused"), seed=7, max_examples=5)
    return ConformanceContext(plan, FuzzOutcome(complete=True, **outcome), None, PublishedSpec(),
                              LatencyReport())


def test_a_run_answered_mostly_429_decides_nothing() -> None:
    # Retry-After: 0 on every request: waited out, still 429; nothing was judged, nothing passes.
    throttled = verdict_for(_context(requests=900, throttled=890), "CONF-NEGATIVE-DATA", "x")
    assert throttled.status == Status.ERROR and "429" in throttled.summary
    judged = verdict_for(_context(requests=900, throttled=40), "CONF-NEGATIVE-DATA", "x")
    assert judged.status == Status.PASS  # a few 503s under load are the load suite's
