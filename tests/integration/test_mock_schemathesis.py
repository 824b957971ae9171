"""Schemathesis 4.x against the running mock with its own spec: zero failures allowed.

Runs the `st` CLI (the same thing an assessor would run) with a valid city-system token; the
purpose-code and request-id headers are generated from the spec's required parameters. Once per
client-authentication method the spec allows: private_key_jwt (no client certificate), and mTLS
(the token from a client-certificate grant, every request with that certificate) — only the
second reaches the token endpoint's certificate branch (issue 13: a client_assertion_type the
spec refuses was accepted there).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from popcert_npdb.client_auth import tls_context
from popcert_npdb.launcher import MockNPDB
from popcert_npdb.purposes import SPEC_DIR

pytestmark = pytest.mark.integration
ST = shutil.which("st", path=str(Path(sys.executable).parent)) or shutil.which("st")


@pytest.fixture(scope="module")
def npdb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MockNPDB]:
    with MockNPDB(tmp_path_factory.mktemp("npdb-st"), population=100_000) as mock:
        yield mock


def _mtls_token(npdb: MockNPDB) -> tuple[str, list[str]]:
    issued = npdb.pki.client_cert_set("city-system")["valid"]
    with httpx.Client(verify=tls_context(npdb.pki.ca_path, issued.cert_path, issued.key_path),
                      timeout=10, trust_env=False) as http:
        resp = http.post(npdb.token_url, data={"grant_type": "client_credentials",
                                               "client_id": "city-system"})
    resp.raise_for_status()
    return str(resp.json()["access_token"]), ["--request-cert", str(issued.cert_path),
                                              "--request-cert-key", str(issued.key_path)]


@pytest.mark.skipif(ST is None, reason="schemathesis CLI not installed")
@pytest.mark.parametrize("client_auth", ["private_key_jwt", "mtls"])
def test_schemathesis_finds_no_failures(npdb: MockNPDB, tmp_path: Path, client_auth: str) -> None:
    if client_auth == "mtls":
        token, cert_args = _mtls_token(npdb)
    else:
        token, cert_args = npdb.token(), []
    cmd = [str(ST), "run", str(SPEC_DIR / "openapi.yaml"), "--url", npdb.data_url,
           "--tls-verify", str(npdb.pki.ca_path), "-H", f"Authorization: Bearer {token}",
           *cert_args,
           "--max-examples", "25", "--seed", "6", "--no-color", "--request-timeout", "10",
           "--report", "junit", "--report-dir", str(tmp_path)]
    # cwd=tmp_path: the st CLI writes a .schemathesis cache into its working directory.
    result = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=240, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]
    assert " passed" in result.stdout.split("SUMMARY")[-1]
