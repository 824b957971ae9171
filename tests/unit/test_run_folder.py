"""Issue 24 item 6: a symbolic link planted below output_dir never receives a run's files.

A pre-existing link at ``output_dir/<system slug>`` used to send results.jsonl, config.json and the
reports into the folder it pointed to. Now each level is created and opened without following a
link: the run stops with one line naming output_dir and the fix, and nothing is written through it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from harness.errors import ConfigError
from harness.run_folder import create_run_folder

POPCERT = Path(sys.executable).parent / "popcert"
SLUG = "hostile-city"


def test_a_real_folder_is_created_and_reused_by_the_next_run(tmp_path: Path) -> None:
    first = create_run_folder(tmp_path / "runs", SLUG, "20260101T000000-000")
    second = create_run_folder(tmp_path / "runs", SLUG, "20260101T000001-000")
    assert first.is_dir() and second.is_dir() and first.parent == second.parent
    assert not first.parent.is_symlink()


def test_a_link_at_the_slug_is_refused_and_nothing_is_written_through_it(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / SLUG).symlink_to(victim)
    with pytest.raises(ConfigError) as refused:
        create_run_folder(tmp_path / "runs", SLUG, "20260101T000000-000", "run.yaml")
    line = str(refused.value)
    assert line.startswith("run.yaml: output_dir: ") and "symbolic link" in line
    assert "remove" in line and "\n" not in line
    assert list(victim.iterdir()) == []


def test_a_link_at_the_run_name_or_a_dangling_link_is_refused(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    (tmp_path / "runs" / SLUG).mkdir(parents=True)
    (tmp_path / "runs" / SLUG / "20260101T000000-000").symlink_to(victim)
    with pytest.raises(ConfigError, match="already exists"):
        create_run_folder(tmp_path / "runs", SLUG, "20260101T000000-000")
    (tmp_path / "runs2").mkdir()
    (tmp_path / "runs2" / SLUG).symlink_to(tmp_path / "nowhere")  # mkdir must not create it
    with pytest.raises(ConfigError, match="symbolic link"):
        create_run_folder(tmp_path / "runs2", SLUG, "20260101T000000-000")
    assert list(victim.iterdir()) == [] and not (tmp_path / "nowhere").exists()


def test_a_file_at_the_slug_is_refused(tmp_path: Path) -> None:
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / SLUG).write_text("not a folder", encoding="utf-8")
    with pytest.raises(ConfigError, match="not a folder"):
        create_run_folder(tmp_path / "runs", SLUG, "20260101T000000-000")


def test_output_dir_itself_may_be_a_link(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "runs").symlink_to(tmp_path / "real")
    run = create_run_folder(tmp_path / "runs", SLUG, "20260101T000000-000")
    assert (tmp_path / "real" / SLUG / "20260101T000000-000").is_dir() and run.is_dir()


def test_certify_refuses_a_linked_run_folder_in_one_line(tmp_path: Path) -> None:
    """End to end: `popcert certify -c run.yaml` with output_dir/<slug> a link. Exit 2, one line,
    nothing in the link's target (the run stops before any traffic: firewall suite only)."""
    victim = tmp_path / "victim"
    victim.mkdir()
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / SLUG).symlink_to(victim)
    state = tmp_path / "npdb"  # a running mock's ready file: read, never contacted here
    state.mkdir()
    (state / "ready.json").write_text(json.dumps({
        "data_url": "https://127.0.0.1:9", "admin_url": "http://127.0.0.1:9",
        "token_url": "https://127.0.0.1:9/oauth2/token", "jwks_url": "https://127.0.0.1:9/jwks",
        "issuer": "https://id.npdb.test", "pid": 1}), encoding="utf-8")
    ruleset = tmp_path / "rules.txt"
    ruleset.write_text("*filter\n:INPUT DROP [0:0]\nCOMMIT\n", encoding="utf-8")
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump({
        "system": {"name": "Hostile City", "organisation": "bench", "level": "district"},
        "target": {"base_url": "https://127.0.0.1:9"}, "suites": ["firewall"],
        "firewall": {"ruleset": str(ruleset)},
        "npdb": {"start": False, "state_dir": str(state)}, "output_dir": str(tmp_path / "runs")}),
        encoding="utf-8")
    result = subprocess.run([str(POPCERT), "certify", "-c", str(config)], capture_output=True,
                            text=True, timeout=120, check=False,
                            env={**os.environ, "NO_COLOR": "1", "COLUMNS": "400"})
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2, result.stdout + result.stderr
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert f"{config}: output_dir:" in lines[0] and "symbolic link" in lines[0]
    assert list(victim.iterdir()) == []
