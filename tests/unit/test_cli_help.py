"""Issue 21 §5: `popcert --version`, and every command's --help has examples and readable types."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
import typer
from typer.core import TyperGroup
from typer.testing import CliRunner

from harness.commands.examples import EXAMPLES
from harness.commands.main import app

POPCERT = Path(sys.executable).parent / "popcert"


def _leaf_commands(group: TyperGroup, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = []
    for name, command in group.commands.items():
        if isinstance(command, TyperGroup):
            found += _leaf_commands(command, (*prefix, name))
        else:
            found.append((*prefix, name))
    return found


_ROOT = typer.main.get_command(app)
assert isinstance(_ROOT, TyperGroup)
COMMANDS = _leaf_commands(_ROOT)


def test_every_command_has_examples_declared() -> None:
    assert {" ".join(path) for path in COMMANDS} == set(EXAMPLES)


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_help_shows_examples_and_no_python_types(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "200", "NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    assert "Examples:" in result.output
    for example in EXAMPLES[" ".join(path)]:
        assert example in result.output  # whole, at a width where nothing wraps
    assert "list[" not in result.output and "<path>]" not in result.output


def test_version_prints_the_installed_distribution_version() -> None:
    done = subprocess.run([str(POPCERT), "--version"], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "NO_COLOR": "1"}, check=False)
    assert done.returncode == 0
    assert done.stdout.strip() == f"popcert {metadata.version('popcert')}"
