"""A refused body's decoders are released at once in the schemathesis child, whatever the coding.

schemathesis keeps every error with its traceback. The guard decodes through popcert's decoder
table; a br decoder holds its window (about 4 MiB), so a generator left open in that traceback
pinned 414 MiB per 100 refused br bombs (bench/hostile.py: the child at 1.8 GiB). The gzip-gzip
case of the same client is tests/integration/test_hostile_sut.py's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.test_hostile_sut import GUARDED_CLIENT

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("encoding", ["br", "deflate", "gzip, br"])
def test_refused_bombs_of_any_coding_are_not_pinned(encoding: str) -> None:
    script = GUARDED_CLIENT.replace('"gzip, gzip", 1 << 30', f"{encoding!r}, 1 << 30")
    assert script != GUARDED_CLIENT
    done = subprocess.run([sys.executable, "-c", script], check=False, cwd=ROOT,
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr[-2000:]
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    assert outcome["kept"] == 100 and "over 1048576 bytes" in outcome["message"]
    assert outcome["growth_mib"] < 40, outcome
