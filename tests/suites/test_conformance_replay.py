"""A seed reproduces the fuzzing (issue 20, item 8): two runs of the conformance fuzzing against
the reference system with the same seed send the same requests (method, path and query, body
hash; ids the SUT made up are placeholders), and another seed sends other ones. Bounded: 3
examples per operation (about 800 requests a run, most of them the coverage phase)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.suites.conformance.context import plan_for
from harness.suites.conformance.runner import REQUEST_LOG, FuzzOutcome, run_schemathesis
from harness.suites.conformance.spec import load_spec
from tests.suites.lab import SEED, launchers, run_context

pytestmark = pytest.mark.integration

EXAMPLES = 3


@pytest.fixture(scope="module")
def npdb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    MockNPDB, _ = launchers()
    with MockNPDB(tmp_path_factory.mktemp("npdb"), population=100_000, seed=6) as mock:
        yield mock


def fuzz(npdb: Any, tmp: Path, seed: int) -> FuzzOutcome:
    """One fuzzing run against a fresh reference system (an empty dossier store each time)."""
    _, CitySystem = launchers()
    with CitySystem(npdb, tmp / "city", defects=frozenset()) as city:
        run = run_context(npdb, city, tmp)
        plan = plan_for(run, load_spec(), run.portal().token(lifetime_s=3600))
        outcome = run_schemathesis(dataclasses.replace(plan, seed=seed, max_examples=EXAMPLES))
    assert outcome.complete and not outcome.timed_out, outcome.problems
    assert (plan.workdir / REQUEST_LOG).read_text(encoding="utf-8") == outcome.log.text()
    return outcome


@pytest.fixture(scope="module")
def runs(npdb: Any, tmp_path_factory: pytest.TempPathFactory) -> list[FuzzOutcome]:
    return [fuzz(npdb, tmp_path_factory.mktemp(f"run{i}"), seed)
            for i, seed in enumerate((SEED, SEED, SEED + 1))]


def test_the_same_seed_sends_the_same_requests(runs: list[FuzzOutcome]) -> None:
    first, second, _ = runs
    a, b = first.log.requests, second.log.requests
    assert len(a) > 300
    differing = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), None)
    assert differing is None, f"request {differing}: {a[differing]} != {b[differing]}"
    assert len(a) == len(b)
    assert first.replay["request_sequence_sha256"] == second.replay["request_sequence_sha256"]
    assert first.replay["per_operation"] == second.replay["per_operation"]
    # The sent requests include a dossier the SUT created and named: its id is a placeholder.
    assert any("{r" in r.target for r in a)


def test_another_seed_sends_other_requests(runs: list[FuzzOutcome]) -> None:
    first, _, other = runs
    assert other.replay["request_sequence_sha256"] != first.replay["request_sequence_sha256"]
    # The coverage phase is derived from the spec alone; the seed drives the fuzzing phases.
    coverage = [r for r in first.log.requests if r.phase == "coverage"]
    assert coverage == [r for r in other.log.requests if r.phase == "coverage"]


def test_the_replay_record_says_what_reproduces_the_run(runs: list[FuzzOutcome]) -> None:
    record = runs[0].replay
    assert record["seed"] == SEED and record["max_examples"] == EXAMPLES
    assert record["phases"] == ["examples", "coverage", "fuzzing", "stateful"]
    assert record["schemathesis"][0].isdigit() and record["hypothesis"][0].isdigit()
    assert "continue-on-failure = true" in record["settings"]
    assert set(record["per_phase"]) == set(record["phases"])
    assert sum(record["per_operation"].values()) == record["requests"] == len(runs[0].log.requests)
    assert record["cut_by_wall_clock"] is False
