"""popcert installed from its wheel works in any folder, as a vendor would `pip install` it.

Builds sdist + wheel (`make dist` does the same), installs the wheel into a fresh venv in a temp
folder and runs init, checks, certify (firewall + sast), keys/sign/verify there, outside the repo.
Offline: the new venv takes its dependencies from the project venv's site-packages through a .pth
path line (a plain path, so the project's editable-install finder is NOT activated and the code
under test can only come from the wheel).
"""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from harness import resources

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration


def _run(cmd: list[str], cwd: Path, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, check=False)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    # The wheel is built FROM the sdist, so a file missing from the sdist fails here too.
    built = _run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(REPO)],
                 cwd=REPO, timeout=300)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    wheels = list(out.glob("popcert-*.whl"))
    assert len(wheels) == 1 and list(out.glob("popcert-*.tar.gz"))
    return wheels[0]


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv (no system site-packages, no pip) with only the wheel installed; returns its bin/."""
    venv = tmp_path_factory.mktemp("venv")
    made = _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=venv)
    assert made.returncode == 0, made.stderr
    python = venv / "bin" / "python"
    target = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                       cwd=venv).stdout.strip())
    pip = _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
                "--no-index", "--quiet", str(wheel)], cwd=venv)
    assert pip.returncode == 0, pip.stdout + pip.stderr
    (target / "popcert_test_dependencies.pth").write_text(
        "\n".join(site.getsitepackages()) + "\n", encoding="utf-8")
    return venv / "bin"


def test_wheel_carries_every_bundled_data_folder(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for entry in resources.BUNDLED:
        assert any(n == f"harness/_data/{entry}" or n.startswith(f"harness/_data/{entry}/")
                   for n in names), f"{entry} is not in the wheel"
    for needed in ("harness/_data/specs/profiles/province.yaml",
                   "harness/_data/reports/schema/report.schema.json",
                   "harness/_data/reports/templates/report.html.j2",
                   "harness/_data/load/locustfile.py",
                   "harness/report/catalogue_vi.yaml",
                   "popcert_city/firewall/ruleset.iptables"):
        assert needed in names
    # setup.py keeps its own copy of the list (it cannot import harness): they must agree.
    setup_py = (REPO / "setup.py").read_text(encoding="utf-8")
    assert all(f'"{entry}"' in setup_py for entry in resources.BUNDLED)


def test_wheel_installs_only_packages_under_the_projects_own_names(wheel: Path) -> None:
    """The folders mocks/population_db and examples/city_system install as popcert_npdb and
    popcert_city: no top-level `mocks` or `examples` lands in a vendor's site-packages."""
    tops = {name.split("/", 1)[0] for name in zipfile.ZipFile(wheel).namelist()}
    dist_info = {top for top in tops if top.endswith(".dist-info")}
    assert len(dist_info) == 1 and next(iter(dist_info)).startswith("popcert-")
    assert tops - dist_info == {"harness", "popcert_npdb", "popcert_city"}


def test_installed_wheel_imports_the_project_names_only(installed: Path, tmp_path: Path) -> None:
    probe = ("import importlib.util as u; import popcert_npdb.population, popcert_city.defects; "
             "print(*[n for n in ('mocks', 'examples', 'popcert_npdb', 'popcert_city') "
             "if u.find_spec(n)])")
    found = _run([str(installed / "python"), "-c", probe], cwd=tmp_path)
    assert found.returncode == 0, found.stderr
    assert found.stdout.split() == ["popcert_npdb", "popcert_city"]


def test_installed_popcert_works_outside_the_repository(installed: Path, tmp_path: Path) -> None:
    popcert, python = str(installed / "popcert"), str(installed / "python")
    where = _run([python, "-c", ("import harness, harness.resources as r; "
                  "print(harness.__file__); print(r.installed()); print(r.data_root())")],
                 cwd=tmp_path)
    module_file, is_installed, data_root = where.stdout.split()
    assert not module_file.startswith(str(REPO)) and is_installed == "True", where.stdout
    assert Path(data_root).is_relative_to(installed.parent)

    init = _run([popcert, "init", "run.yaml"], cwd=tmp_path)
    assert init.returncode == 0, init.stderr
    assert "system:" in (tmp_path / "run.yaml").read_text(encoding="utf-8")

    checks = _run([popcert, "checks", "--json"], cwd=tmp_path)
    assert checks.returncode == 0, checks.stderr
    assert "FW-" in checks.stdout and "SAST-" in checks.stdout

    # The vendor's artifacts: the reference system's compliant ruleset and source tree.
    make_artifacts = ("from pathlib import Path; "
                      "from popcert_city.firewall_policy import ruleset; "
                      "from popcert_city.source_tree import source; "
                      "print(ruleset(frozenset(), 'iptables', Path('fw'))); "
                      "print(source(frozenset(), Path('src')))")
    artifacts = _run([python, "-c", make_artifacts], cwd=tmp_path)
    assert artifacts.returncode == 0, artifacts.stderr
    ruleset_path, source_path = artifacts.stdout.split()
    config = yaml.safe_load((tmp_path / "run.yaml").read_text(encoding="utf-8"))
    config["target"] = {"base_url": "https://127.0.0.1:9"}
    config["firewall"] = {"ruleset": ruleset_path}
    config["source"] = {"path": source_path}
    config["npdb"] = {"start": True, "population": 1000, "state_dir": ".popcert/npdb"}
    config["assessor"] = {}
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")

    certify = _run([popcert, "certify", "-c", "run.yaml", "--suite", "firewall", "--suite", "sast"],
                   cwd=tmp_path, timeout=300)
    # Only two suites ran, so the other mandatory checks block: NOT CERTIFIED, exit 1, not 2.
    assert certify.returncode == 1, certify.stdout[-3000:] + certify.stderr[-3000:]
    assert "verdict: NOT CERTIFIED" in certify.stdout
    reports = list((tmp_path / "reports" / "runs").glob("*/*/report.json"))
    assert len(reports) == 1, "runs go to reports/runs beside run.yaml, not into site-packages"
    report = json.loads(reports[0].read_text(encoding="utf-8"))
    ran = {r["check"]["id"]: r["status"] for r in report["results"]
           if r["check"]["suite"] in ("firewall", "sast")}
    assert ran and set(ran.values()) == {"pass"}, ran
    assert (reports[0].parent / "report.html").exists()

    keys = _run([popcert, "keys", "new", "--out-dir", "keys"], cwd=tmp_path)
    assert keys.returncode == 0, keys.stderr
    signed = _run([popcert, "sign", str(reports[0]), "--key", "keys/assessor.key.pem"], cwd=tmp_path)
    assert signed.returncode == 0, signed.stderr
    trusted = _run([popcert, "keys", "trust", "keys/assessor.pub.pem", "--trust-store", "trusted"],
                   cwd=tmp_path)
    assert trusted.returncode == 0, trusted.stderr
    verified = _run([popcert, "verify", str(reports[0]), "--trust-store", "trusted"], cwd=tmp_path)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "VALID" in verified.stdout

    # The demo starts the installed mock NPDB and reference city system; its runs stay in ./
    (tmp_path / "demo").mkdir()
    demo = _run([popcert, "demo", "--suite", "firewall", "--suite", "sast"], cwd=tmp_path / "demo",
                timeout=300)
    assert demo.returncode == 1, demo.stdout[-3000:] + demo.stderr[-3000:]  # 2 suites: NOT CERTIFIED
    assert list((tmp_path / "demo" / "reports" / "runs").glob("*/*/report.html"))
    assert (tmp_path / "demo" / ".popcert" / "demo").is_dir()

    # The certificate templates ship too: an (empty) registry site renders from the wheel.
    site = _run([popcert, "registry", "site", "site", "--registry", "registry.sqlite3"], cwd=tmp_path)
    assert site.returncode == 0, site.stdout + site.stderr
    assert "Registry of certificates" in (tmp_path / "site" / "index.html").read_text(encoding="utf-8")


def _dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = (REPO / "Dockerfile").read_text(encoding="utf-8")
    joined = text.replace("\\\n", " ")
    instructions = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, arguments = line.partition(" ")
            instructions.append((keyword.upper(), " ".join(arguments.split())))
    return instructions


def test_dockerfile_builds_from_files_that_exist_and_ships_the_tools() -> None:
    """docker cannot run here: check what can be checked without it."""
    import fnmatch
    import tomllib

    instructions = _dockerfile_instructions()
    ignored = [line.strip() for line in (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
               if line.strip() and not line.startswith("#")]
    copied: list[str] = []
    for keyword, arguments in instructions:
        if keyword != "COPY" or arguments.startswith("--from="):
            continue
        *sources, _destination = arguments.split()
        for source in sources:
            assert (REPO / source).exists(), f"Dockerfile COPY {source}: no such file in the repository"
            assert not any(fnmatch.fnmatch(source.rstrip("/"), pattern) for pattern in ignored), source
            copied.append(source.rstrip("/"))
    for entry in resources.BUNDLED:  # what the wheel must carry is in the build context
        assert any(entry == c or entry.startswith(c + "/") for c in copied), entry
    stages = [arguments for keyword, arguments in instructions if keyword == "FROM"]
    assert len(stages) == 2 and all(s.startswith("python:3.11") for s in stages)
    requires = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert requires["requires-python"] == ">=3.11"
    runtime = instructions[[k for k, _ in instructions].index("FROM", 1):]
    apt = " ".join(a for k, a in runtime if k == "RUN" and "apt-get install" in a)
    for package in ("iptables", "nftables", "openssl"):
        assert f" {package} " in f" {apt} ", package
    assert ("ENTRYPOINT", '["popcert"]') in runtime and "popcert" in requires["scripts"]
    assert any(k == "USER" and a != "root" for k, a in runtime)


def test_dockerfile_build_context_is_enough_to_build_the_wheel(tmp_path: Path) -> None:
    """Replays the build stage's COPY lines into an empty folder and builds the wheel there."""
    import shutil

    context = tmp_path / "src"
    context.mkdir()
    for keyword, arguments in _dockerfile_instructions():
        if keyword != "COPY" or arguments.startswith("--from="):
            continue
        *sources, destination = arguments.split()
        for source in sources:
            origin = REPO / source
            target = context / destination / origin.name if destination.endswith("./") else \
                context / destination
            if origin.is_dir():
                shutil.copytree(origin, target, dirs_exist_ok=True,
                                ignore=shutil.ignore_patterns("__pycache__", "*.so"))
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(origin, target)
    built = _run([sys.executable, "-m", "build", "--no-isolation", "--wheel", "--outdir",
                  str(tmp_path / "dist"), str(context)], cwd=context, timeout=300)
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
    wheel = next((tmp_path / "dist").glob("popcert-*.whl"))
    assert "harness/_data/specs/profiles/district.yaml" in zipfile.ZipFile(wheel).namelist()


def test_no_code_builds_its_own_path_to_the_data_folders() -> None:
    """Paths to specs/, reports/, scenarios/, load/, examples/ come from harness.resources only:
    a path built from __file__ or the checkout's root breaks as soon as popcert is installed."""
    import re

    built_path = re.compile(r"(REPO_ROOT|SOURCE_ROOT|__file__|parents?\b[^\n]*)\s*/\s*"
                            r"[\"'](specs|reports|scenarios|load|examples)\b")
    offenders = []
    for package in ("harness", "mocks", "examples", "load"):
        for source in sorted((REPO / package).rglob("*.py")):
            if source == REPO / "harness" / "resources.py":
                continue
            for number, line in enumerate(source.read_text(encoding="utf-8").splitlines(), 1):
                # examples/city_system is a Python package: its own files are package data.
                if built_path.search(line) and '"examples" / "city_system"' not in line:
                    offenders.append(f"{source.relative_to(REPO)}:{number}: {line.strip()}")
    assert not offenders, "use harness.resources instead:\n" + "\n".join(offenders)
