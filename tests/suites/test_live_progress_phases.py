"""Issue 21 §5: the long phases report live progress through RunContext.live as they run:
scenario step n/N, load users/req/s/p95/time left from locust's statistics (real servers on
127.0.0.1, as the suites' own tests use)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from harness.live import LiveStatus
from harness.suites.scenario.context import run_scenarios
from harness.suites.scenario.model import load_all
from tests.suites.lab import run_context as lab_run_context
from tests.suites.lab import with_system
from tests.suites.test_load import STUB_LIMITS, StubSUT, run_context, run_load_checks

pytestmark = pytest.mark.integration


class Recorder(LiveStatus):
    def __init__(self) -> None:
        self.updates: list[tuple[str, str, int | None, int | None]] = []
        self.lock = threading.Lock()

    def phase_update(self, suite: str, text: str, *, done: int | None = None,
                     total: int | None = None) -> None:
        with self.lock:
            self.updates.append((suite, text, done, total))


def test_scenarios_report_step_n_of_n(tmp_path: Path) -> None:
    scenarios = [s for s in load_all() if s.id == "birth-registration"]
    total = sum(len(s.steps) for s in scenarios)
    recorder = Recorder()
    for npdb, city in with_system(tmp_path, frozenset()):
        run = lab_run_context(npdb, city, tmp_path)
        run.live = recorder
        run_scenarios(run, scenarios)
    assert [(u[0], u[2], u[3]) for u in recorder.updates] == [
        ("scenario", n, total) for n in range(total)]
    assert recorder.updates[0][1].startswith(f"step 1/{total}: birth-registration/")


def test_the_load_run_reports_users_rate_and_time_left(tmp_path: Path) -> None:
    recorder = Recorder()
    with StubSUT() as sut:
        run = run_context(sut.base_url, tmp_path, limits={**STUB_LIMITS, "duration_s": 10})
        run.live = recorder
        run_load_checks(run)
    texts = [text for suite, text, _, _ in recorder.updates if suite == "load"]
    assert len(texts) >= 5 and all(text.endswith(" s left") for text in texts), texts
    # locust flushes its statistics every 5 s: a 10 s run shows them at least once.
    assert any(" users, " in text and " req/s" in text for text in texts), texts
