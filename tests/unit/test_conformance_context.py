"""The conformance context: a run that cannot start stops the suite (SuiteUnavailable) before any
traffic, so the engine errors every CONF- check with the reason and no check holds a guard."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.checks import EvidenceKind, SuiteUnavailable
from harness.config import config_from_dict
from harness.net import ScopeGuard
from harness.profiles import load_profile
from harness.registry import default_registry
from harness.run_context import RunContext


def run_context(tmp_path: Path, scope: list[str]) -> RunContext:
    """The config declares the target; the run's own guard (``scope``) may still refuse it."""
    config = config_from_dict({
        "system": {"name": "t", "organisation": "popcert", "level": "province"},
        "target": {"base_url": "https://127.0.0.1:9/"},
        "npdb": {"start": False}, "seed": 1}, tmp_path)
    return RunContext(config, load_profile("province"), tmp_path, ScopeGuard(scope),
                      tmp_path / "work", quick=True, seed=1)


def test_a_target_the_run_may_not_reach_makes_the_suite_unavailable(tmp_path: Path) -> None:
    suite = default_registry().suite("conformance")
    assert suite is not None
    with pytest.raises(SuiteUnavailable) as raised:
        next(suite.context(run_context(tmp_path, ["sut.example.org"])))
    stopped = raised.value
    assert stopped.summary.startswith("conformance run could not start: OutOfScopeError")
    assert "127.0.0.1" in stopped.summary
    assert [e.kind for e in stopped.evidence] == [EvidenceKind.NOTE]
    assert not (tmp_path / "work" / "conformance").exists()  # nothing was fuzzed

