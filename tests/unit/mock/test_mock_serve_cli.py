"""`popcert mock serve` hands --trust-ca to the mock (the SUT's server CA for notifications)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path


def test_mock_serve_passes_trust_ca_to_the_server(tmp_path: Path) -> None:
    not_a_certificate = tmp_path / "sut-ca.pem"
    not_a_certificate.write_text("this is not PEM", encoding="utf-8")
    state = tmp_path / "npdb"
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "popcert"), "mock", "serve", "--state-dir", str(state),
         "--population", "1000", "--data-port", "0", "--admin-port", "0",
         "--trust-ca", str(not_a_certificate)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (state / "ready.json").exists() and server.poll() is None:
            assert time.monotonic() < deadline, "the mock did not become ready"
            time.sleep(0.1)
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=30)
    # The server read the file it was given and said why it cannot use it.
    assert f"--trust-ca {not_a_certificate}" in stderr


def test_mock_serve_refuses_an_unknown_mtls_mode_in_one_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [str(Path(sys.executable).parent / "popcert"), "mock", "serve", "--state-dir",
         str(tmp_path / "npdb"), "--mtls", "sometimes"],
        capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert "--mtls 'sometimes' is not a mode: use off, optional or required" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "npdb").exists()  # refused before the mock built any state
