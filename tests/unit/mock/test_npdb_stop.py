"""Issue 24 item 9: the mock stops on SIGTERM without waiting on idle connections, and says in its
log what it waits for (a request in flight gets a short grace, then is cancelled). The stop time
itself is measured by bench/mock_stop.py, not asserted here."""

from __future__ import annotations

import os
import signal
import ssl
import threading
import time
from pathlib import Path

import httpx

from popcert_npdb.launcher import MockNPDB

BOUND_S = 25.0  # an upper bound for "it stopped", far above the 2 s target (busy shared host)


def test_sigterm_stops_despite_idle_keep_alive_and_a_held_request(tmp_path: Path) -> None:
    npdb = MockNPDB(tmp_path / "npdb", population=1000).start()
    context = ssl.create_default_context(cafile=str(npdb.ca_path))
    idle = httpx.Client(verify=context, timeout=10)
    assert idle.get(npdb.jwks_url).status_code == 200  # its TLS connection now idles in the pool
    httpx.post(f"{npdb.admin_url}/admin/faults", json={"endpoint": "/.well-known/jwks.json",
                                                       "kind": "timeout", "latency_ms": 60_000})
    answers: list[int] = []
    held = threading.Thread(target=lambda: answers.append(
        httpx.get(npdb.jwks_url, verify=context, timeout=60).status_code))
    held.start()
    time.sleep(1.0)  # the held request is in flight
    child = npdb._proc
    assert child is not None
    try:
        os.kill(child.pid, signal.SIGTERM)
        child.wait(timeout=BOUND_S)  # before the fix: 30 s, the TLS close_notify wait
        assert child.returncode == 0  # it closed its audit log, not killed by a re-raised signal
    finally:
        npdb.stop()
        idle.close()
    held.join(timeout=BOUND_S)
    assert answers == [500]  # the held request was cancelled, not left hanging
    log = (tmp_path / "npdb" / "mock.log").read_text(encoding="utf-8")
    assert "mock NPDB: SIGTERM received, stopping" in log
    assert "waiting up to" in log and "1 request(s) in flight (data GET /.well-known/jwks.json)" in log
