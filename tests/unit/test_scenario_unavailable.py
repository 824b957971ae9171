"""A scenario run that cannot start (no mock NPDB, a malformed scenario file) stops the suite:
the context raises SuiteUnavailable naming why, so every SCN- check reports `error` and no
dossier is sent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.checks import SuiteUnavailable
from harness.config import config_from_dict
from harness.errors import ConfigError
from harness.net import ScopeGuard
from harness.profiles import load_profile
from harness.run_context import RunContext
from harness.suites.scenario.context import make_context


def run_context(tmp_path: Path, npdb: Any = None) -> RunContext:
    config = config_from_dict({
        "system": {"name": "test", "organisation": "popcert tests", "level": "province"},
        "target": {"base_url": "http://127.0.0.1:9"}, "npdb": {"start": False}}, tmp_path)
    return RunContext(config=config, profile=load_profile("province"), run_dir=tmp_path,
                      scope=ScopeGuard(["127.0.0.1"]), workdir=tmp_path, npdb=npdb)


def test_no_mock_npdb_stops_the_suite(tmp_path: Path) -> None:
    with pytest.raises(SuiteUnavailable) as stopped:
        next(make_context(run_context(tmp_path)))
    assert stopped.value.summary == ("scenario suite could not start: the scenario suite needs "
                                     "the mock NPDB (npdb.start)")


def test_a_malformed_scenario_stops_the_suite(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    def malformed() -> list[Any]:
        raise ConfigError(tmp_path / "bad.yaml", "steps.0.expect (line 12)", "field required")

    monkeypatch.setattr("harness.suites.scenario.context.load_all", malformed)
    # The NPDB handle is never used: the scenarios are read before anything is driven.
    with pytest.raises(SuiteUnavailable) as stopped:
        next(make_context(run_context(tmp_path, npdb=object())))
    assert stopped.value.summary.startswith("scenario suite could not start: ")
    assert "bad.yaml" in stopped.value.summary and "steps.0.expect" in stopped.value.summary
