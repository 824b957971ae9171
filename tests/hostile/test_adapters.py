"""Issue 22, seam 2: every hostile body gives the same outcome through all three HTTP adapters.

The adapters (httpx's SafeClient, requests under the schemathesis guard, geventhttpclient as the
locustfile reads it) share harness/hostile: one decoder table, one policy, one deadline rule.
Each runs in a process of its own (tests/hostile/clients.py) against the same loopback servers;
a case passes when the three agree with the expected outcome and each ended within the deadline.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zlib
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from tests.hostile import clients
from tests.hostile import servers as hostile

ROOT = Path(__file__).resolve().parents[2]
JSON = b'{"dossier_id": "d-1"}'
_RAW = zlib.compressobj(9, zlib.DEFLATED, -15)
RAW_DEFLATE = _RAW.compress(JSON) + _RAW.flush()
SMALL = 200_000
SMALL_OUTCOME = clients.body_outcome(bytes(SMALL))

# case -> (server, the outcome every adapter must reach)
CASES: dict[str, tuple[Callable[[], hostile.HostileServer], str]] = {
    "plain": (lambda: hostile.encoded("", JSON), clients.body_outcome(JSON)),
    "gzip": (lambda: hostile.compression_bomb("gzip", SMALL), SMALL_OUTCOME),
    "br": (lambda: hostile.compression_bomb("br", SMALL), SMALL_OUTCOME),
    "raw-deflate": (lambda: hostile.encoded("deflate", RAW_DEFLATE), clients.body_outcome(JSON)),
    "gzip-gzip-bomb": (lambda: hostile.compression_bomb("gzip, gzip", 1 << 28), "too-large"),
    "deflate-bomb": (lambda: hostile.compression_bomb("deflate", 1 << 28), "too-large"),
    "br-bomb": (lambda: hostile.compression_bomb("br", 1 << 28), "too-large"),
    "endless-body": (hostile.endless_body, "too-large"),
    "four-codings": (lambda: hostile.encoded("gzip, gzip, gzip, gzip", b"x"), "refused-coding"),
    "corrupt-gzip": (lambda: hostile.encoded("gzip", b"not gzip at all"), "refused-coding"),
    "unknown-coding": (lambda: hostile.encoded("compress", b"abc"), "refused-coding"),
    "slowloris": (lambda: hostile.slowloris(interval_s=1.0), "no-answer"),
    "endless-trailer": (hostile.endless_trailer, "no-answer"),
    "tls-hello-flood": (hostile.tls_hello_flood, "no-answer"),
    "hang": (hostile.hang, "no-answer"),
}


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, dict[str, Any]]]:
    with ExitStack() as stack:
        servers = {name: stack.enter_context(factory()) for name, (factory, _) in CASES.items()}
        cases = [{"name": name, "url": sut.url + "/connection/v1/dossiers",
                  "ca": str(sut.ca_path) if sut.ca_path else None}
                 for name, sut in servers.items()]
        path = tmp_path_factory.mktemp("adapters") / "cases.json"
        path.write_text(json.dumps(cases), encoding="utf-8")
        runs = {adapter: subprocess.Popen(
            [sys.executable, "-m", "tests.hostile.clients", adapter, str(path)], cwd=ROOT,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for adapter in clients.ADAPTERS}
        found: dict[str, dict[str, Any]] = {}
        for adapter, run in runs.items():
            try:
                stdout, stderr = run.communicate(timeout=180)
            except subprocess.TimeoutExpired:
                run.kill()
                stdout, stderr = run.communicate()
            assert run.returncode == 0, f"{adapter}: exit {run.returncode}\n{stderr[-3000:]}"
            found[adapter] = {line["name"]: line for line in map(json.loads, stdout.splitlines())}
        yield found


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_adapter_reaches_the_same_outcome(case: str,
                                                outcomes: dict[str, dict[str, Any]]) -> None:
    seen = {adapter: found[case] for adapter, found in outcomes.items()}
    expected = CASES[case][1]
    assert {a: r["outcome"] for a, r in seen.items()} == dict.fromkeys(clients.ADAPTERS, expected), \
        json.dumps(seen, indent=1)
    # Every request of every client ends by its total deadline (plus process scheduling slack).
    late = {a: r["elapsed_s"] for a, r in seen.items() if r["elapsed_s"] > clients.DEADLINE_S + 2}
    assert late == {}, json.dumps(seen, indent=1)
