"""Issue 21 §5: runs go where the docs say, reports/runs beside run.yaml, from a checkout too."""

from __future__ import annotations

import shutil
from pathlib import Path

from harness import resources
from harness.config import REPO_ROOT, load_config


def _config_in(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "run.yaml"
    shutil.copy(REPO_ROOT / "examples" / "run.example.yaml", path)
    (folder / "certs").mkdir(exist_ok=True)
    for name in ("ca.pem", "portal.pem", "portal.key"):
        (folder / "certs" / name).write_text("placeholder\n", encoding="utf-8")
    return path


def test_runs_go_beside_run_yaml_not_into_the_checkout(tmp_path: Path) -> None:
    assert not resources.installed()  # these tests run from the checkout, the case that was wrong
    config = load_config(_config_in(tmp_path / "vendor"))
    assert config.output_dir == (tmp_path / "vendor" / "reports" / "runs").resolve()
    assert REPO_ROOT not in config.output_dir.parents


def test_a_relative_output_dir_is_relative_to_run_yaml(tmp_path: Path) -> None:
    path = _config_in(tmp_path / "vendor")
    path.write_text(path.read_text(encoding="utf-8") + "output_dir: ../archive\n", encoding="utf-8")
    assert load_config(path).output_dir == (tmp_path / "archive").resolve()
