"""The CI examples run the real command and publish the files render_all really writes."""

from __future__ import annotations

import fnmatch
from typing import Any

import yaml

from harness.profiles import CERTIFIED, NOT_CERTIFIED, Verdict
from harness.report.document import REPO_ROOT
from harness.report.render import FILE_NAMES

CI = REPO_ROOT / "examples" / "ci"
COMMAND = "popcert certify -c run.yaml --quick"
# Where the engine writes a run: <output_dir>/<system slug>/<timestamp>/ (harness.engine.new_run_dir).
RUN_FILE = "reports/ci/ha-noi-tthc/20250401T090000-000/{}"


def _matches(pattern: str, name: str) -> bool:
    return fnmatch.fnmatch(RUN_FILE.format(name), pattern.replace("**/", "*/"))


def test_github_actions_gates_on_the_verdict() -> None:
    workflow: dict[str, Any] = yaml.safe_load((CI / "github-actions.yml").read_text(encoding="utf-8"))
    steps = workflow["jobs"]["certify"]["steps"]
    certify = next(s for s in steps if "popcert certify" in s.get("run", ""))
    assert certify["run"] == COMMAND
    assert "continue-on-error" not in certify and "|| true" not in certify["run"]  # exit 1 fails the job
    after = steps[steps.index(certify) + 1:]
    assert after and all(s.get("if") == "always()" for s in after)  # publish even when NOT CERTIFIED
    sarif = next(s for s in after if s.get("uses", "").startswith("github/codeql-action/upload-sarif"))
    assert RUN_FILE.format(FILE_NAMES["sarif"]).startswith(sarif["with"]["sarif_file"].split()[0] + "/")
    junit = next(s for s in after if "junit" in s.get("uses", ""))
    assert _matches(junit["with"]["report_paths"], FILE_NAMES["junit"])
    kept = next(s for s in after if s.get("uses", "").startswith("actions/upload-artifact"))
    paths = kept["with"]["path"].split()
    assert all(any(_matches(p, name) for p in paths) for name in FILE_NAMES.values())
    assert workflow["permissions"]["security-events"] == "write"


def test_gitlab_gates_on_the_verdict() -> None:
    pipeline: dict[str, Any] = yaml.safe_load((CI / "gitlab-ci.yml").read_text(encoding="utf-8"))
    job = pipeline["npdb-certification"]
    assert COMMAND in job["script"] and job.get("allow_failure") is False
    assert job["artifacts"]["when"] == "always"
    assert _matches(job["artifacts"]["reports"]["junit"], FILE_NAMES["junit"])
    assert all(any(_matches(p, name) for p in job["artifacts"]["paths"]) for name in FILE_NAMES.values())


def test_exit_code_convention_matches_the_comments() -> None:
    assert Verdict(CERTIFIED, (), ()).exit_code == 0 and Verdict(NOT_CERTIFIED, ("x",), ()).exit_code == 1
    for name in ("github-actions.yml", "gitlab-ci.yml"):
        text = (CI / name).read_text(encoding="utf-8")
        assert "0 CERTIFIED, 1 NOT CERTIFIED / INCOMPLETE, 2 harness or config error" in text


def _verify_commands(commands: list[str]) -> None:
    """Trust a pinned key first, then verify from the trust store: never a key beside the report."""
    trust = next(c for c in commands if c.startswith("popcert keys trust "))
    verify = next(c for c in commands if c.startswith("popcert verify "))
    assert commands.index(trust) < commands.index(verify)
    key, report = trust.split()[3], verify.split()[2]
    assert key.rsplit("/", 1)[0] != report.rsplit("/", 1)[0]
    assert "--public-key" not in verify and " -p " not in verify


def test_github_verifies_the_signed_report_with_a_trusted_key() -> None:
    workflow: dict[str, Any] = yaml.safe_load((CI / "github-actions.yml").read_text(encoding="utf-8"))
    steps = workflow["jobs"]["verify-certificate"]["steps"]
    _verify_commands([s["run"] for s in steps if "run" in s])


def test_gitlab_verifies_the_signed_report_with_a_trusted_key() -> None:
    pipeline: dict[str, Any] = yaml.safe_load((CI / "gitlab-ci.yml").read_text(encoding="utf-8"))
    job = pipeline["verify-certificate"]
    assert job.get("allow_failure") is False
    _verify_commands(job["script"])
