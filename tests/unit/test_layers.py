"""The harness's layers hold: no import runs back up them and no sibling packages import in a
circle (the import-linter contracts in pyproject.toml, checked as `make test` runs)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def test_import_contracts_are_kept() -> None:
    # --no-cache: no .grimp_cache left in the checkout.
    result = subprocess.run([str(LINT_IMPORTS), "--no-cache", "--config", "pyproject.toml"],
                            cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout
