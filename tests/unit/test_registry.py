"""The check registry: every suite is installed, ids are stable and unique, each check is provable.

"Provable" means: every mandatory check of the province profile names a defect switch of the
reference city system, so the detection matrix can show the check catches what it claims.
"""

from __future__ import annotations

import dataclasses
import re
import sys
import typing

import pytest

from harness.checklist import print_checks, where
from harness.checks import Check, CheckResult, Severity, check
from harness.profiles import load_profile
from harness.registry import Registry, Suite, default_registry
from harness.run_context import RunContext
from harness.suite_names import DEFAULT_SUITES
from harness.suite_names import SUITE_NAMES as SUITES
from popcert_city.defects import DEFECTS

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


def _marked(check_id: str) -> object:
    return check(check_id, severity=Severity.LOW, requirement="test")(
        lambda ctx: CheckResult.passed("x"))


def test_check_ids_are_unique() -> None:
    twice = (_marked("SAST-REGISTRY-TEST-DUP"), _marked("SAST-REGISTRY-TEST-DUP"))
    with pytest.raises(ValueError, match="registered twice"):
        Registry([Suite("sast", lambda run: iter([None]), twice)])  # type: ignore[arg-type]


def test_a_check_listed_by_another_suite_is_refused() -> None:
    tls_check = (_marked("TLS-REGISTRY-TEST-ELSEWHERE"),)
    with pytest.raises(ValueError, match="listed by suite 'sast'"):
        Registry([Suite("sast", lambda run: iter([None]), tls_check)])  # type: ignore[arg-type]


def test_where_names_code_tests_and_defect_switch() -> None:
    found = where("auth-jwt-expired")
    assert found.code.startswith("harness/suites/") and found.code.split(":")[-1].isdigit()
    assert any(path.startswith("tests/") for path in found.tests)
    assert found.defects and found.defects[0].startswith("auth.exp_not_checked: examples/")


def test_unknown_suite_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown suite"):
        Suite("pentest", lambda run: iter([None]), ())  # type: ignore[arg-type]


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


def _context_type(suite: Suite[object]) -> type:
    """The context a suite's factory yields, from its annotation ``Iterator[XContext]``."""
    hints = typing.get_type_hints(suite.context, localns={"RunContext": RunContext})
    (context,) = typing.get_args(hints["return"])
    return typing.cast(type, context)


def _field_type(owner: type, name: str) -> object:
    field = {f.name: f for f in dataclasses.fields(owner)}[name]
    return sys.modules[owner.__module__].__dict__.get(str(field.type), field.type)


@pytest.mark.parametrize("suite", SUITES)
def test_a_context_is_read_only_but_for_the_state_its_suite_writes_down(suite: str) -> None:
    """What a check may leave for a later check is named in the suite's declaration (``state``):
    the context is frozen, and what checks may fill in lives in its private fields (memos) or
    in a mutable ``state`` holder, each written down, so check order cannot hide a dependency."""
    declared = default_registry().suite(suite)
    assert declared is not None
    context = _context_type(declared)
    assert dataclasses.is_dataclass(context) and context.__dataclass_params__.frozen, (
        f"{context.__qualname__} is not a frozen dataclass")  # type: ignore[attr-defined]
    documented = set(declared.state)
    for path in documented:  # each names a field of the context (or of a field of it)
        owner: object = context
        for name in path.split("."):
            assert isinstance(owner, type) and dataclasses.is_dataclass(owner), path
            owner = _field_type(owner, name)
    for field in dataclasses.fields(context):
        if field.name.startswith("_"):
            assert field.name in documented
        elif field.name == "state":
            holder = _field_type(context, field.name)
            assert isinstance(holder, type) and dataclasses.is_dataclass(holder)
            assert {f"state.{f.name}" for f in dataclasses.fields(holder)} <= documented
