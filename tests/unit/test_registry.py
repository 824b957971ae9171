"""The check registry: every suite is installed, ids are stable and unique, each check is provable.

"Provable" means: every mandatory check of the province profile names a defect switch of the
reference city system, so the detection matrix can show the check catches what it claims.
"""

from __future__ import annotations

import re

import pytest

from examples.city_system.defects import DEFECTS
from harness.checks import REGISTRY, SUITES, Check, Severity, check
from harness.checklist import print_checks
from harness.profiles import load_profile
from harness.suites import SUITE_MODULES, load_all_suites
from harness.suites.base import SUITE_CONTEXTS

CHECK_ID = re.compile(r"^(CONF|SCN|LOAD|AUTH|TLS|FW|SAST)-[A-Z0-9-]+$")
PREFIX = {"conformance": "CONF", "scenario": "SCN", "load": "LOAD", "auth": "AUTH", "tls": "TLS",
          "firewall": "FW", "sast": "SAST"}


@pytest.fixture(scope="module")
def checks() -> list[Check]:
    load_all_suites()
    return list(REGISTRY.values())


def test_all_seven_suites_load() -> None:
    assert sorted(load_all_suites()) == sorted(SUITES)
    assert set(SUITE_MODULES) == set(SUITES)


@pytest.mark.parametrize("suite", SUITES)
def test_every_suite_has_checks_and_a_context(suite: str, checks: list[Check]) -> None:
    assert any(c.suite == suite for c in checks), f"no check registered for suite {suite}"
    assert suite in SUITE_CONTEXTS, f"suite {suite} registered no @suite_context"


def test_check_ids_are_well_formed_and_match_their_suite(checks: list[Check]) -> None:
    bad = [c.id for c in checks if not CHECK_ID.match(c.id)
           or not c.id.startswith(PREFIX[c.suite] + "-")]
    assert bad == []


def test_check_ids_are_unique() -> None:
    # The registry is a dict, so uniqueness is enforced at registration: prove that it is.
    @check("SAST-REGISTRY-TEST-DUP", suite="sast", severity=Severity.LOW, requirement="test")
    def first(ctx: object) -> None:  # type: ignore[return]
        """First."""

    try:
        with pytest.raises(ValueError, match="registered twice"):
            @check("SAST-REGISTRY-TEST-DUP", suite="sast", severity=Severity.LOW, requirement="t")
            def second(ctx: object) -> None:  # type: ignore[return]
                """Second."""
    finally:
        REGISTRY.pop("SAST-REGISTRY-TEST-DUP", None)


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
