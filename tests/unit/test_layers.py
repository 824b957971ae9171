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


def test_every_simulator_module_is_on_one_side_of_the_npdb_boundary() -> None:
    """The server-side contract lists every module of the mock that is not client side, so a new
    module is placed on a side deliberately (mocks/population_db/client.py says which is which)."""
    import tomllib

    from popcert_npdb import client

    package = REPO / "mocks" / "population_db"
    modules = {p.stem for p in package.glob("*.py") if p.stem != "__init__"} | {"_kernels"}
    contracts = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    server_side = next(c for c in contracts["tool"]["importlinter"]["contracts"]
                       if c["name"] == "the harness loads only the simulator's client side")
    prefix = client.__name__.rsplit(".", 1)[0] + "."
    server = {m.removeprefix(prefix) for m in server_side["forbidden_modules"]}
    assert all(m.startswith(prefix) for m in server_side["forbidden_modules"])
    assert not server & set(client.CLIENT_MODULES)
    assert server | set(client.CLIENT_MODULES) == modules
