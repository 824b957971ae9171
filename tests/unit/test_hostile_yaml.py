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

POPCERT = Path(sys.executable).parent / "popcert"
HEAD = ("system: {name: X, organisation: Y, level: district}\n"
        "target: {base_url: 'https://127.0.0.1:9'}\n")
LAUGHS = "".join(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]\n" for i in range(1, 9))
# Each case: the file's bytes, and what its one error line must say (besides the file's path).
HOSTILE: dict[str, tuple[bytes, list[str]]] = {
    "binary": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)),
               ["line 1", "not UTF-8", "save the config file as UTF-8"]),
    "nested-50000-flow": (HEAD.encode() + b"quick: " + b"[" * 50_000 + b"]" * 50_000,
                          ["line 3", f"deeper than {MAX_DEPTH} levels", "flatten"]),
    "nested-block": ((HEAD + "".join(" " * i + "k:\n" for i in range(150))).encode(),
                     [f"line {3 + MAX_DEPTH}", "deeper than", "flatten"]),
    "billion-laughs": ((HEAD + "l0: &l0 x\n" + LAUGHS).encode(),
                       ["expands to over", "aliases"]),
    "5000-digit-number": ((HEAD + "seed: " + "9" * 5000 + "\n").encode(),
                          ["line 3", "5000 digits", "quote it"]),
    "month-13": ((HEAD + "assessor: {waivers: w.yaml}\nx: 2026-13-01\n").encode(),
                 ["line 4", "month must be in 1..12", "YYYY-MM-DD"]),
    "nul-byte": ((HEAD + "seed: 1\x00\n").encode(), ["line 3", "#x0000", "remove it"]),
    "ports-clash": ((HEAD + "npdb: {start: true, data_port: 19843, admin_port: 19843}\n").encode(),
                    ["npdb (line 3)", "both 19843", "two different free ports"]),
    "ports-without-start": ((HEAD + "npdb: {start: false, data_port: 19843}\n").encode(),
                            ["npdb (line 3)", "only when popcert starts the mock", "remove them"]),
    "port-out-of-range": ((HEAD + "npdb: {data_port: 70000}\n").encode(),
                          ["npdb.data_port (line 3)", "65535"]),
}


def _certify(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(POPCERT), "certify", "-c", str(config)], capture_output=True,
                          text=True, timeout=120, check=False,
                          env={**os.environ, "NO_COLOR": "1", "COLUMNS": "1000"})


def _one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_certify_with_hostile_yaml_is_one_line_exit_2(case: str, tmp_path: Path) -> None:
    content, expected = HOSTILE[case]
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
