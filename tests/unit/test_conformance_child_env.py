"""What the schemathesis child takes from popcert's environment, and what it must not take.

The child's Hypothesis keeps its Unicode tables in the user's cache (rebuilding them cost every
run about 0.9 s of CPU, bench/conformance_child.py); its requests session reads nothing from the environment: no proxy, no
~/.netrc credentials for the SUT's host.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.suites.conformance.runner import HYPOTHESIS_STORAGE_ENV, FuzzPlan, child_environment
from tests.conftest import Behaviour, LoopbackServer


def _plan(tmp_path: Path) -> FuzzPlan:
    return FuzzPlan(spec_path=tmp_path / "openapi.yaml", base_url="http://127.0.0.1:1",
                    token="t", workdir=tmp_path / "work", seed=0, max_examples=1)


def test_hypothesis_tables_live_in_the_user_cache(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(HYPOTHESIS_STORAGE_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    env = child_environment(_plan(tmp_path))
    assert env[HYPOTHESIS_STORAGE_ENV] == str(tmp_path / "cache" / "popcert" / "hypothesis")


def test_a_storage_directory_the_user_chose_is_kept(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(HYPOTHESIS_STORAGE_ENV, str(tmp_path / "mine"))
    assert child_environment(_plan(tmp_path))[HYPOTHESIS_STORAGE_ENV] == str(tmp_path / "mine")


def _recording(seen: list[bytes]) -> Behaviour:
    """Answers 200 and keeps the request's head."""
    def behaviour(conn: socket.socket, stop: threading.Event) -> None:
        conn.settimeout(5)
        seen.append(conn.recv(65536))
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 2\r\nConnection: close\r\n\r\n{}")
    return behaviour


def test_the_child_sends_no_netrc_credentials_and_uses_no_proxy(
        tmp_path: Path, loopback_server: Callable[[Behaviour], LoopbackServer]) -> None:
    target_seen: list[bytes] = []
    proxy_seen: list[bytes] = []
    target = loopback_server(_recording(target_seen))
    proxy = loopback_server(_recording(proxy_seen))
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login vendor password s3cret\n", encoding="utf-8")
    netrc.chmod(0o600)
    script = textwrap.dedent(f"""
        import requests
        import harness.suites.conformance.guard  # patches this process, as in the child
        print(requests.Session().get({target.url + "/x"!r}, timeout=5).status_code)
    """)
    env = {**os.environ, "NETRC": str(netrc), "HTTP_PROXY": proxy.url, "http_proxy": proxy.url,
           "NO_PROXY": "", "no_proxy": ""}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, check=False,
                          text=True, timeout=60, cwd=Path(__file__).resolve().parents[2])
    assert done.stdout.strip() == "200", done.stderr[-2000:]
    assert proxy_seen == []
    assert len(target_seen) == 1
    assert b"authorization" not in target_seen[0].lower()
