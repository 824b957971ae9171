"""Issue 24, items 1 and 2: a SUT that holds a client where no socket timeout fires.

- HelloRequest flood (tests/hostile/servers.py ``tls_hello_flood``): OpenSSL skips each record
  inside one C call, so neither a socket timeout nor a thread join fires. popcert's own handshakes
  end by a watchdog; the sslyze scan runs in a child killed at its deadline.
- Endless chunked trailer (``endless_trailer``): the status and body arrive, the message never
  ends. Every client's request still ends at its total deadline, schemathesis' probes included.
The three HTTP adapters meet both in tests/hostile/test_adapters.py; here, the tools as popcert
runs them (sslyze, schemathesis, locust).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from harness import processes
from harness.checks import Status, SuiteUnavailable
from harness.suites.tls.scan import TlsScanError, TlsTarget, scan
from tests.hostile import servers as hostile

# Generous: these bound a hang (the failure before the fix), they do not measure speed.
HOLD_LIMIT_S = 90.0


def bounded(call: Any) -> Any:
    """Run ``call`` in a thread; fail the test if it is still running after HOLD_LIMIT_S."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = call()
        except BaseException as failure:  # noqa: BLE001 - handed to the test
            outcome["error"] = failure

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(HOLD_LIMIT_S)
    assert not worker.is_alive(), f"still held after {HOLD_LIMIT_S:g} s"
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def test_the_tls_preflight_handshake_ends_against_a_hello_request_flood() -> None:
    with hostile.tls_hello_flood() as sut:
        with pytest.raises(TlsScanError, match="did not complete a TLS handshake"):
            bounded(lambda: scan(TlsTarget("127.0.0.1", sut.port, ca_bundle=sut.ca_path)))
        assert sut.connections >= 1, "never connected: the test proves nothing"


def test_the_sslyze_scan_is_killed_at_its_deadline_inside_a_flooded_handshake() -> None:
    # The preflight gets a real handshake; sslyze's own connections are flooded.
    before = processes.mark()
    with hostile.tls_hello_flood(spare=1) as sut:
        with pytest.raises(TlsScanError, match="did not finish within 8 s"):
            bounded(lambda: scan(TlsTarget("127.0.0.1", sut.port, ca_bundle=sut.ca_path),
                                 deadline_s=8))
        assert sut.connections >= 2, "sslyze never reached the flood: the test proves nothing"
    assert [c.name for c in processes.children(before) if c.poll() is None] == []


@pytest.mark.parametrize("case", ["endless-trailer", "tls-hello-flood"])
def test_schemathesis_requests_and_probes_end_at_their_deadline(case: str,
                                                                tmp_path: Path) -> None:
    from tests.integration.test_hostile_sut import fuzz_hostile

    # Before: the first probe hung until the wall kill (every CONF check `error`).
    with hostile.CATALOGUE[case]() as sut:
        outcome = bounded(lambda: fuzz_hostile(sut, tmp_path, max_examples=1,
                                               phases=("fuzzing",), request_timeout_s=2.0,
                                               wall_timeout_s=HOLD_LIMIT_S))
        connections = sut.connections
    assert connections >= 2, "schemathesis never reached the SUT: the test proves nothing"
    assert not outcome.timed_out, "schemathesis had to be killed: a request had no deadline"
    assert outcome.exit_code in (0, 1), outcome.stderr_tail


@pytest.mark.parametrize("case", ["endless-trailer", "tls-hello-flood"])
def test_locust_requests_fail_at_their_deadline_instead_of_freezing_the_worker(
        case: str, tmp_path: Path) -> None:
    from tests.suites.test_load import HOSTILE_LIMITS, run_context, run_load_checks

    # Before: the worker stood still inside the first request (a greenlet that never yields)
    # until locust's wall-clock bound killed it, with no statistics.
    with hostile.CATALOGUE[case]() as sut:
        try:
            results = bounded(lambda: run_load_checks(run_context(
                sut.url, tmp_path, limits=HOSTILE_LIMITS, ca_bundle=sut.ca_path)))
        except SuiteUnavailable as unavailable:  # no request ended within the short run
            assert "killed" not in unavailable.summary, unavailable.summary
            results = None
        connections = sut.connections
    assert connections >= 1
    if results is not None:
        errors = results["LOAD-ERROR-RATE"]
        assert errors.status == Status.FAIL, errors.summary
        assert errors.measurements["error_rate"] == 1.0


@pytest.mark.parametrize("quick", [True, False])
def test_a_quick_run_holds_the_scan_to_the_quick_deadline(
        quick: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A flood that starts after the preflight held the quick run's TLS suite for the full 240 s
    # of its 420 s budget: scenario and load never ran (bench/hostile.py, flood-after-one).
    import harness.suites.tls.context as tls_suite
    from harness.config import config_from_dict
    from harness.net import ScopeGuard
    from harness.profiles import load_profile
    from harness.run_context import RunContext
    from harness.suites.tls.scan import QUICK_SCAN_DEADLINE_S, SCAN_DEADLINE_S

    deadlines: list[float] = []

    def scan_refused(target: TlsTarget, deadline_s: float, *_: object) -> None:
        deadlines.append(deadline_s)
        raise TlsScanError("stopped here: the deadline is what this test reads")

    monkeypatch.setattr(tls_suite, "scan_endpoint", scan_refused)
    config = config_from_dict({
        "system": {"name": "quick", "organisation": "test", "level": "district"},
        "target": {"base_url": "https://127.0.0.1:8443"}, "quick": quick}, tmp_path)
    run = RunContext(config, load_profile("district"), tmp_path, ScopeGuard(["127.0.0.1"]),
                     tmp_path)
    with pytest.raises(SuiteUnavailable, match="stopped here"):
        next(tls_suite.make_context(run))
    assert deadlines == [QUICK_SCAN_DEADLINE_S if quick else SCAN_DEADLINE_S]
    assert QUICK_SCAN_DEADLINE_S < SCAN_DEADLINE_S
