"""Issue 24 item 7: hostile YAML in a run config (and every file read through read_yaml) is one
line naming the file, the line or field and the fix; exit 2; never a traceback.

Before: a binary run.yaml gave a UnicodeDecodeError traceback, YAML nested 50,000 deep a
RecursionError traceback, and `npdb: {data_port, admin_port}` were silently replaced by random ports.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from harness.errors import ConfigError
from harness.yaml_documents import MAX_DEPTH, read_yaml
from tests.hostile.inputs import HEAD, HOSTILE_YAML
from tests.hostile.inputs import MAX_DEPTH as MAX_DEPTH_OF_INPUTS

POPCERT = Path(sys.executable).parent / "popcert"


def _certify(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(POPCERT), "certify", "-c", str(config)], capture_output=True,
                          text=True, timeout=120, check=False,
                          env={**os.environ, "NO_COLOR": "1", "COLUMNS": "1000"})


def _one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize("case", sorted(HOSTILE_YAML))
def test_certify_with_hostile_yaml_is_one_line_exit_2(case: str, tmp_path: Path) -> None:
    assert MAX_DEPTH_OF_INPUTS == MAX_DEPTH
    content, expected = HOSTILE_YAML[case]
    config = tmp_path / "run.yaml"
    config.write_bytes(content)
    line = _one_error_line(_certify(config))
    assert line.startswith(f"error: {config}: "), line
    for words in expected:
        assert words in line, line


def test_every_yaml_file_goes_through_the_same_bounds(tmp_path: Path) -> None:
    """Scenarios, profiles, baselines, waivers and attestations use read_yaml too."""
    path = tmp_path / "waivers.yaml"
    path.write_bytes(b"waivers: " + b"[" * 50_000)
    with pytest.raises(ConfigError, match="deeper than"):
        read_yaml(path, what="file", hint="see examples/assessor/waivers.yaml")
    path.write_bytes(b"\xff\xfe" + "waivers: []".encode("utf-16-le"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        read_yaml(path, what="file", hint="")
    path.write_bytes(b"a: &a [1, 2]\nb: *a\nc: {d: [*a, *a]}\n")  # ordinary aliases still load
    assert read_yaml(path, what="file", hint="")[0] == {"a": [1, 2], "b": [1, 2],
                                                        "c": {"d": [[1, 2], [1, 2]]}}


def test_a_taken_npdb_port_is_refused_not_replaced(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = tmp_path / "run.yaml"
        config.write_text(HEAD + f"npdb: {{start: true, data_port: {port}, population: 1000, "
                          f"state_dir: npdb}}\nsuites: [auth]\noutput_dir: runs\n",
                          encoding="utf-8")
        line = _one_error_line(_certify(config))
    assert f"{config}: npdb.data_port: the mock NPDB cannot listen on port {port}" in line
    assert "choose a free port" in line and not (tmp_path / "runs").exists()
