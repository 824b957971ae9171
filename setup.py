"""Build steps pyproject.toml cannot declare: the packages under the project's own names, the
optional C accelerator, and the product's data folders (specs/, reports/schema, reports/templates,
scenarios/, load/, example configs) copied into the wheel under harness/_data, where
harness/resources.py finds them when popcert is installed."""

import shutil
from pathlib import Path

from setuptools import Extension, find_packages, setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
# Import name -> folder: the repository keeps its layout, the wheel installs only popcert's names
# (no top-level `mocks` or `examples` in site-packages; tests/integration/test_wheel_install.py).
PACKAGE_DIRS = {"popcert_npdb": "mocks/population_db", "popcert_city": "examples/city_system"}
# Keep in step with harness.resources.BUNDLED (tests/integration/test_wheel_install.py checks it).
BUNDLED = ("specs", "reports/schema", "reports/templates", "scenarios", "load",
           "examples/run.example.yaml", "examples/assessor", "examples/ci")


class BuildPyWithData(build_py):
    """build_py that also bundles the top-level data folders, which must stay at the repo root."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install reads the checkout's own folders
        bundle = Path(self.build_lib) / "harness" / "_data"
        for entry in BUNDLED:
            source, target = ROOT / entry, bundle / entry
            if source.is_dir():
                shutil.copytree(source, target, dirs_exist_ok=True,
                                ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "runs"))
            elif source.is_file():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target)
            else:
                raise FileNotFoundError(f"setup.py: {entry} is missing from the source tree")


def packages() -> list[str]:
    found = find_packages(include=["harness", "harness.*"])
    for name, folder in PACKAGE_DIRS.items():
        found += [name, *(f"{name}.{sub}" for sub in find_packages(folder))]
    return found


setup(cmdclass={"build_py": BuildPyWithData}, packages=packages(), package_dir=PACKAGE_DIRS,
      ext_modules=[Extension("popcert_npdb._kernels", ["mocks/population_db/_kernels.c"],
                             optional=True)])  # no compiler: kernels.py falls back to Python
