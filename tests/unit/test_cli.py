"""The popcert command line as a user runs it: exit codes and one-line errors.

Runs the installed console script in a subprocess (no network: every command here stops before
any traffic), so what is asserted is exactly what a terminal or a CI log shows.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness.config import REPO_ROOT, load_config

POPCERT = Path(sys.executable).parent / "popcert"


def popcert(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1", "PYTHONWARNINGS": "ignore"}
    return subprocess.run([str(POPCERT), *args], capture_output=True, text=True, timeout=120,
                          cwd=cwd, env=env, check=False)


def error_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.strip()]


def example_with_certs(folder: Path) -> Path:
    path = folder / "run.yaml"
    shutil.copy(REPO_ROOT / "examples" / "run.example.yaml", path)
    (folder / "certs").mkdir(exist_ok=True)
    for name in ("ca.pem", "portal.pem", "portal.key"):
        (folder / "certs" / name).write_text("placeholder\n", encoding="utf-8")
    return path


def test_certify_with_a_wrong_field_type_is_one_line_and_exit_2(tmp_path: Path) -> None:
    path = example_with_certs(tmp_path)
    path.write_text(path.read_text(encoding="utf-8").replace("  timeout_s: 10",
                                                              '  timeout_s: "fast"'),
                    encoding="utf-8")
    result = popcert("certify", "-c", str(path))
    assert result.returncode == 2
    lines = error_lines(result)
    assert len(lines) == 1, result.stderr
    line = 1 + path.read_text(encoding="utf-8").splitlines().index('  timeout_s: "fast"')
    assert f"target.timeout_s (line {line})" in lines[0] and str(path) in lines[0]
    assert "Traceback" not in result.stderr


def test_certify_with_a_missing_file_exits_2(tmp_path: Path) -> None:
    result = popcert("certify", "-c", str(tmp_path / "absent.yaml"))
    assert result.returncode == 2
    lines = error_lines(result)
    assert len(lines) == 1 and "absent.yaml" in lines[0] and "popcert init" in lines[0]


def test_certify_with_an_out_of_scope_target_exits_2_before_any_traffic(tmp_path: Path) -> None:
    path = example_with_certs(tmp_path)
    path.write_text(path.read_text(encoding="utf-8").replace(
        "base_url: https://127.0.0.1:8443", "base_url: https://203.0.113.7"), encoding="utf-8")
    result = popcert("certify", "-c", str(path))
    assert result.returncode == 2 and "not in scope" in result.stderr
    assert not (tmp_path / "reports").exists()


def test_init_writes_a_config_that_loads(tmp_path: Path) -> None:
    result = popcert("init", "run.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "popcert certify -c run.yaml" in result.stdout
    # The example names certs/ca.pem etc.: the user puts their files there, then it loads.
    for name in ("ca.pem", "portal.pem", "portal.key"):
        (tmp_path / "certs").mkdir(exist_ok=True)
        (tmp_path / "certs" / name).write_text("placeholder\n", encoding="utf-8")
    config = load_config(tmp_path / "run.yaml")
    assert config.target.ca_bundle == (tmp_path / "certs" / "ca.pem").resolve()


def test_init_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    (tmp_path / "run.yaml").write_text("mine: true\n", encoding="utf-8")
    result = popcert("init", "run.yaml", cwd=tmp_path)
    assert result.returncode == 2 and "--force" in result.stderr
    assert (tmp_path / "run.yaml").read_text(encoding="utf-8") == "mine: true\n"
    assert popcert("init", "run.yaml", "--force", cwd=tmp_path).returncode == 0
    assert "system:" in (tmp_path / "run.yaml").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def registered_ids() -> list[str]:
    result = popcert("checks", "--json")
    assert result.returncode == 0, result.stderr
    entries = json.loads(result.stdout)
    assert all({"id", "suite", "severity", "requirement", "defects", "mandatory"} <= set(e)
               for e in entries)
    return [e["id"] for e in entries]


def test_checks_json_parses_and_lists_every_suite(registered_ids: list[str]) -> None:
    assert len(registered_ids) == len(set(registered_ids)) > 0
    prefixes = {check_id.split("-")[0] for check_id in registered_ids}
    assert {"FW", "TLS", "CONF"} <= prefixes


def test_checks_lists_ids(registered_ids: list[str]) -> None:
    result = popcert("checks")
    assert result.returncode == 0
    missing = [check_id for check_id in registered_ids if check_id not in result.stdout]
    assert missing == []


def test_checks_with_an_unknown_profile_exits_2() -> None:
    result = popcert("checks", "--profile", "county")
    assert result.returncode == 2 and "province" in result.stderr


def test_report_on_a_folder_that_is_not_a_run_exits_2(tmp_path: Path) -> None:
    result = popcert("report", str(tmp_path))
    assert result.returncode == 2 and "not a popcert run folder" in result.stderr
    assert "Traceback" not in result.stderr
