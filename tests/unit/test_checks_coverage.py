"""`popcert checks --coverage`: requirement -> check -> defect switch -> detection-matrix row, for
every requirement a check enforces; the row ids are real rows of the matrix."""

from __future__ import annotations

from harness.checklist import _error_switches, detection_lines, known_defects, matrix_row
from harness.registry import default_registry
from harness.requirements import coverage
from popcert_city.defects import DEFECTS
from tests.integration import test_detection_matrix as matrix


def test_every_enforced_requirement_has_a_check_a_switch_and_a_matrix_row() -> None:
    checks = list(default_registry())
    lines = detection_lines(checks, known_defects())
    assert lines[0] == "requirement -> check -> defect switch -> detection-matrix row"
    rows = [line.split("  ") for line in lines[1:]]
    assert all(len(row) == 4 for row in rows)
    enforced = {r.requirement_id for r in coverage(checks) if r.covered}
    assert {row[0] for row in rows} == enforced
    assert [row for row in rows if row[2] == "(no defect switch)"] == []
    for requirement, check_id, switch, node in rows:
        assert switch in DEFECTS, (requirement, check_id)
        test = (matrix.test_error_switch_is_never_a_pass if switch in matrix.ERROR_SWITCHES
                else matrix.test_switch_is_caught_by_exactly_its_checks)
        assert node == f"tests/integration/test_detection_matrix.py::{test.__name__}[{switch}]"
    body_limit = [row for row in rows if row[0] == "CONN-BODY-LIMIT"]
    assert body_limit == [["CONN-BODY-LIMIT", "AUTH-BODY-LIMIT", switch, matrix_row(switch, set())]
                          for switch in ("auth.no_body_limit", "auth.body_limit_html_413")]


def test_the_error_switches_are_read_from_the_matrix_itself() -> None:
    assert _error_switches() == set(matrix.ERROR_SWITCHES)
    assert matrix_row("firewall.ipv6_missing", _error_switches()).endswith(
        "::test_error_switch_is_never_a_pass[firewall.ipv6_missing]")
