"""The one place that knows where popcert's shipped data is: specs/, reports/schema, reports/templates,
scenarios/, load/ and the example configs.

In a checkout they are the repository's top-level folders (fixed by the product's design); in an
installed wheel the build copies them under the package as ``harness/_data/`` (setup.py), read here
through importlib.resources. Every caller asks this module instead of building a path itself.
"""

from __future__ import annotations

import os
from functools import lru_cache
from importlib import resources
from pathlib import Path

# The checkout's root when running from the repository (editable install); site-packages otherwise.
SOURCE_ROOT = Path(__file__).resolve().parent.parent
BUNDLE = "_data"
# What the wheel carries under harness/_data, relative to the repository root (setup.py copies it).
BUNDLED = ("specs", "reports/schema", "reports/templates", "scenarios", "load",
           "examples/run.example.yaml", "examples/assessor", "examples/ci")


@lru_cache(maxsize=1)
def data_root() -> Path:
    """The folder holding specs/, reports/, scenarios/, load/, examples/ for this installation."""
    bundled = resources.files("harness").joinpath(BUNDLE)
    # A wheel is always unpacked on disk by pip/pipx, so the bundle is a real folder.
    if bundled.is_dir():
        return Path(str(bundled))
    return SOURCE_ROOT


def installed() -> bool:
    """True when popcert runs from an installed wheel rather than from its repository."""
    return data_root() != SOURCE_ROOT


def data_path(*parts: str) -> Path:
    """A shipped file or folder, e.g. ``data_path("specs", "npdb", "v1", "purposes.yaml")``."""
    return data_root().joinpath(*parts)


def specs_dir() -> Path:
    return data_path("specs")


def profiles_dir() -> Path:
    return data_path("specs", "profiles")


def schema_dir() -> Path:
    return data_path("reports", "schema")


def templates_dir() -> Path:
    return data_path("reports", "templates")


def scenarios_dir() -> Path:
    return data_path("scenarios")


def load_dir() -> Path:
    return data_path("load")


def example_config() -> Path:
    return data_path("examples", "run.example.yaml")


def default_output_dir() -> Path:
    """Where runs go by default: ``reports/runs`` beside run.yaml, from a checkout as installed.

    Relative on purpose: config paths resolve against the config file's folder (config.py), so a
    run lands with the config of the system it certifies, never in site-packages, and never in
    popcert's own checkout, where several systems' runs would pile up (issue 21). ``popcert demo``
    has no run.yaml: its runs go to ``./reports/runs`` (runner.run_demo).
    """
    return Path("reports/runs")


def default_work_root() -> Path:
    """Scratch state (mock NPDB, demo): the checkout's .popcert, or ./.popcert when installed."""
    return SOURCE_ROOT / ".popcert" if not installed() else Path.cwd() / ".popcert"


def user_cache_dir() -> Path:
    """Derived data worth keeping between runs (never results): ``$XDG_CACHE_HOME/popcert``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "popcert"
