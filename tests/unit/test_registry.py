"""The check registry: every suite is installed, ids are stable and unique, each check is provable.

"Provable" means: every mandatory check of the province profile names a defect switch of the
reference city system, so the detection matrix can show the check catches what it claims.
"""

from __future__ import annotations

import re

import pytest

from popcert_city.defects import DEFECTS
from harness.checklist import print_checks, where
from harness.checks import SUITES, Check, CheckResult, Severity, check
from harness.profiles import load_profile
from harness.registry import Registry, Suite, default_registry
from harness.suite_names import DEFAULT_SUITES

CHECK_ID = re.compile(r"^(CONF|SCN|LOAD|AUTH|TLS|FW|SAST)-[A-Z0-9-]+$")
PREFIX = {"conformance": "CONF", "scenario": "SCN", "load": "LOAD", "auth": "AUTH", "tls": "TLS",
          "firewall": "FW", "sast": "SAST"}


@pytest.fixture(scope="module")
def checks() -> list[Check]:
    return list(default_registry())


def test_all_seven_suites_load_in_run_order() -> None:
    assert default_registry().suites() == list(SUITES)
    assert len(DEFAULT_SUITES) == len(SUITES)


@pytest.mark.parametrize("suite", SUITES)
def test_every_suite_has_checks_and_a_context(suite: str, checks: list[Check]) -> None:
    assert any(c.suite == suite for c in checks), f"no check registered for suite {suite}"
    declared = default_registry().suite(suite)
    assert declared is not None and callable(declared.context)


def test_check_ids_are_well_formed_and_match_their_suite(checks: list[Check]) -> None:
    bad = [c.id for c in checks if not CHECK_ID.match(c.id)
           or not c.id.startswith(PREFIX[c.suite] + "-")]
    assert bad == []


def _marked(check_id: str, suite: str = "sast") -> object:
    return check(check_id, suite=suite, severity=Severity.LOW, requirement="test")(
        lambda ctx: CheckResult.passed("x"))


def test_check_ids_are_unique() -> None:
    twice = (_marked("SAST-REGISTRY-TEST-DUP"), _marked("SAST-REGISTRY-TEST-DUP"))
    with pytest.raises(ValueError, match="registered twice"):
        Registry([Suite("sast", lambda run: iter([None]), twice)])  # type: ignore[arg-type]


def test_a_check_listed_by_another_suite_is_refused() -> None:
    tls_check = (_marked("TLS-REGISTRY-TEST-ELSEWHERE", suite="tls"),)
    with pytest.raises(ValueError, match="listed by suite 'sast'"):
        Registry([Suite("sast", lambda run: iter([None]), tls_check)])  # type: ignore[arg-type]


def test_where_names_code_tests_and_defect_switch() -> None:
    found = where("auth-jwt-expired")
    assert found.code.startswith("harness/suites/") and found.code.split(":")[-1].isdigit()
    assert any(path.startswith("tests/") for path in found.tests)
    assert found.defects and found.defects[0].startswith("auth.exp_not_checked: examples/")


def test_unknown_suite_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown suite"):
        check("PEN-X", suite="pentest", severity=Severity.LOW, requirement="x")


def test_every_check_states_its_requirement_and_title(checks: list[Check]) -> None:
    assert [c.id for c in checks if not c.requirement.strip()] == []
    assert [c.id for c in checks if not c.title.strip()] == []


def test_every_check_has_a_severity_and_a_positive_time_limit(checks: list[Check]) -> None:
    assert all(isinstance(c.severity, Severity) for c in checks)
    assert all(c.timeout_s > 0 for c in checks)


def test_named_defect_switches_exist(checks: list[Check]) -> None:
    unknown = {c.id: [d for d in c.defects if d not in DEFECTS] for c in checks}
    assert {k: v for k, v in unknown.items() if v} == {}


def test_every_mandatory_province_check_has_a_defect_switch(checks: list[Check]) -> None:
    province = load_profile("province")
    uncovered = [c.id for c in checks if province.is_mandatory(c.id)
                 and not any(d in DEFECTS for d in c.defects)]
    assert uncovered == []
    assert print_checks("province", coverage=True, as_json=False) == 0
