"""The corrected-latency histogram: precise percentiles, lossless merge of workers' reports."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.suites.load.latency import (
    Histogram,
    LatencyRecorder,
    bucket_of,
    bucket_value,
    read_latency,
)


@given(st.integers(min_value=0, max_value=10**9))
def test_bucket_holds_its_value_within_half_a_percent(value_us: int) -> None:
    assert abs(bucket_value(bucket_of(value_us)) - value_us) <= max(0.5, value_us / 256)


def test_percentiles_match_the_exact_ones() -> None:
    rng = random.Random(4)
    values = [int(rng.lognormvariate(11, 1)) for _ in range(20_000)]
    histogram = Histogram()
    for value in values:
        histogram.record(value)
    ordered = sorted(values)
    for fraction in (0.5, 0.95, 0.99):
        exact = ordered[int(fraction * len(ordered)) - 1] / 1000
        assert histogram.percentile_ms(fraction) == pytest.approx(exact, rel=0.01)


def test_workers_reports_merge_to_the_whole(tmp_path: Path) -> None:
    whole, master = LatencyRecorder(), LatencyRecorder()
    workers = [LatencyRecorder(), LatencyRecorder()]
    for i in range(3000):
        latency = (i % 97) / 100
        whole.record("GET /x", latency, i % 50 != 0, 1000.0 + i)
        workers[i % 2].record("GET /x", latency, i % 50 != 0, 1000.0 + i)
        if i % 700 == 0:  # periodic stats reports drain each worker
            for worker in workers:
                master.merge_json(worker.drain())
    whole.add_due(3010)
    workers[0].add_due(3010)
    for worker in workers:
        master.merge_json(worker.drain())
    master.write(tmp_path / "m.json")
    whole.write(tmp_path / "w.json")
    merged, single = read_latency(tmp_path / "m.json"), read_latency(tmp_path / "w.json")
    assert merged == single and merged is not None
    assert (merged.due, merged.ok, merged.failed) == (3010, 2940, 60)
    assert merged.window == (1000.0, 3999.0)


def test_unreadable_file_is_none(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text("{", encoding="utf-8")
    assert read_latency(tmp_path / "bad.json") is None
    assert read_latency(tmp_path / "missing.json") is None


@given(st.floats(min_value=1000.0, max_value=1100.0), st.integers(min_value=1, max_value=5000),
       st.floats(min_value=0.0001, max_value=2.0))
def test_due_slots_are_placed_in_their_seconds(first: float, count: int, interval: float) -> None:
    recorder = LatencyRecorder()
    recorder.add_due(count, first, interval)
    expected: dict[int, int] = {}
    for slot in range(count):
        second = int(first + slot * interval)
        expected[second] = expected.get(second, 0) + 1
    assert sum(recorder.due_by_s.values()) == count == recorder.counters["due"]
    # Slots right on a second's edge may land on either side of it (float rounding).
    for second, n in expected.items():
        assert abs(recorder.due_by_s.get(second, 0) - n) <= 1
