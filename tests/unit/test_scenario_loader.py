"""The scenario loader: shipped scenarios load; a malformed file names the file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import ConfigError
from harness.suites.scenario.model import SCENARIOS_DIR, load_all, load_scenario

VALID = """\
id: birth-registration
title_vi: Đăng ký khai sinh
title_en: Birth registration
population:
  family: {kind: child_with_parents}
steps:
  - id: submit
    procedure_code: "1.001193"
    applicant:
      personal_id: ${family.mother.personal_id}
    details:
      child_full_name: ${family.child.full_name}
    expect:
      outcome: completed
      npdb: {max_calls: 4, fields: []}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "scenario.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_valid_scenario_loads(tmp_path: Path) -> None:
    scenario = load_scenario(write(tmp_path, VALID))
    assert scenario.steps[0].expect.npdb.max_calls == 4
    assert scenario.population["family"].kind == "child_with_parents"


def test_shipped_scenarios_all_load() -> None:
    scenarios = load_all(SCENARIOS_DIR)
    codes = {step.procedure_code for s in scenarios for step in s.steps}
    assert {"1.001193", "1.000894", "1.000656", "1.004194", "1.004206", "1.011451",
            "1.002045"} <= codes
    assert any(s.has_faults for s in scenarios)


def test_wrong_value_names_file_line_and_field(tmp_path: Path) -> None:
    path = write(tmp_path, VALID.replace("outcome: completed", "outcome: done"))
    with pytest.raises(ConfigError) as raised:
        load_scenario(path)
    message = str(raised.value)
    assert message.startswith(f"{path}: steps.0.expect.outcome (line 14): 'done'")


def test_unknown_field_names_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, VALID.replace("      npdb: {max_calls: 4, fields: []}",
                                         "      npdb: {max_calls: 4, fields: []}\n      retries: 3"))
    with pytest.raises(ConfigError, match=r"steps\.0\.expect\.retries \(line 16\): unknown field"):
        load_scenario(path)


def test_missing_field_names_the_enclosing_mapping(tmp_path: Path) -> None:
    path = write(tmp_path, VALID.replace("      npdb: {max_calls: 4, fields: []}\n", ""))
    with pytest.raises(ConfigError, match=r"steps\.0\.expect\.npdb \(line 14\): is required"):
        load_scenario(path)


def test_unbound_placeholder_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, VALID.replace("${family.child.full_name}", "${famly.child.full_name}"))
    with pytest.raises(ConfigError, match=r"famly.*not in population"):
        load_scenario(path)


def test_status_fault_needs_a_status(tmp_path: Path) -> None:
    text = VALID.replace("    expect:", "    faults:\n      - {endpoint: '*', kind: status}\n"
                         "    expect:")
    with pytest.raises(ConfigError, match=r"steps\.0\.faults\.0 \(line 14\).*needs status"):
        load_scenario(write(tmp_path, text))


def test_broken_yaml_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, VALID.replace("  family: {kind: child_with_parents}",
                                         "  family: {kind: child_with_parents"))
    with pytest.raises(ConfigError, match=r"line \d+: not valid YAML"):
        load_scenario(path)


def test_a_step_must_declare_the_fields_its_procedure_reads(tmp_path: Path) -> None:
    path = write(tmp_path, VALID.replace("{max_calls: 4, fields: []}", "{max_calls: 4}"))
    with pytest.raises(ConfigError, match=r"steps\.0\.expect\.npdb\.fields \(line 15\): is required"):
        load_scenario(path)
    path = write(tmp_path, VALID.replace("fields: []", "fields: [Full Name]"))
    with pytest.raises(ConfigError, match=r"not an NPDB citizen field name"):
        load_scenario(path)
