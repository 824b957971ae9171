"""Issue 21 §5: `make bench` on a machine without wrk skips that bench with the reason, it does
not fail; and `make bench` installs the Debian tools first, as `make test` does."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_the_wrk_bench_skips_with_its_reason_when_wrk_is_missing(tmp_path: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    done = subprocess.run([sys.executable, str(REPO / "bench" / "mock_npdb.py")],
                          capture_output=True, text=True, timeout=120, cwd=REPO, check=False,
                          env={**os.environ, "PATH": str(empty)})
    assert done.returncode == 0, done.stderr[-2000:]
    assert "skipped: wrk is not installed" in done.stdout
    assert "apt-get install wrk" in done.stdout  # the fix, with the reason


def test_make_bench_installs_the_system_tools_first() -> None:
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    bench = re.search(r"^bench:(.*)$", makefile, re.MULTILINE)
    assert bench is not None and "sysdeps" in bench.group(1).split()
