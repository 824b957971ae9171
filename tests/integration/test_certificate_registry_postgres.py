"""The certificate registry on PostgreSQL, through the same SQLAlchemy Core code as SQLite.

Starts a throwaway PostgreSQL (Debian's postgresql package) on 127.0.0.1 with an OS-chosen port in
a temp folder, always stopped afterwards; skips, saying why, when PostgreSQL or psycopg is missing.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from harness.certificate.issue import issue_certificate, trusted_public_keys
from harness.certificate.registry import Registry
from harness.certificate.site import render_site
from harness.certificate.verify import verify_certificate
from harness.signing.keys import keys_new, load_private_key
from harness.signing.trust import trust_key
from tests.unit.certificate.conftest import Lab, certified

pytestmark = pytest.mark.integration


def _postgres_bin() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(versions[-1]).parent if versions else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    pytest.importorskip("psycopg", reason="psycopg is not installed (pip install 'popcert[postgres]')")
    bin_dir = _postgres_bin()
    if bin_dir is None or not (bin_dir / "initdb").exists():
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    # PostgreSQL refuses to run as root: run it as the postgres account when we are root.
    user = None
    if os.geteuid() == 0:
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no postgres account to run PostgreSQL as")
    root = Path(tempfile.mkdtemp(prefix="popcert-pg-"))
    if user is not None:
        os.chown(root, user.pw_uid, user.pw_gid)
    data, port = root / "data", _free_port()
    as_user = {"user": user.pw_uid, "group": user.pw_gid} if user else {}

    def run(*cmd: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False,
                              cwd=root, **as_user)

    made = run(str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "popcert",
               "--no-sync", "-E", "UTF8")
    if made.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip(f"initdb failed: {made.stderr.strip()[-300:]}")
    started = run(str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-w", "-t", "60",
                  "-o", f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off", "start")
    try:
        if started.returncode != 0:
            pytest.skip(f"PostgreSQL did not start: {started.stdout.strip()[-300:]}")
        yield f"postgresql+psycopg://popcert@127.0.0.1:{port}/postgres"
    finally:
        run(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


def test_issue_revoke_verify_and_tampering_on_postgresql(postgres_url: str, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    store = tmp_path / "trusted"
    monkeypatch.setenv("POPCERT_TRUST_STORE", str(store))
    pair = keys_new(tmp_path / "keys", "assessor")
    trust_key(pair.public_key, store)
    registry = Registry(postgres_url)
    lab = Lab(tmp_path, pair.private_key, pair.public_key, store, registry)
    trusted = trusted_public_keys(store)

    issued = []
    for name in ("Hà Nội", "Huế"):
        report = certified(system=f"Hệ thống TTHC {name}")
        issued.append(issue_certificate(lab.report(report, name=name), lab.key, registry=registry,
                                        assessor="Võ Minh Tâm"))
    first, second = issued
    registry.revoke(first.certificate.serial, "mã nguồn thay đổi", load_private_key(lab.key))

    def check(item):
        return verify_certificate(item.path, item.signature_path, registry=registry, trusted=trusted)

    assert check(second).valid
    assert check(first).status == "revoked"
    assert [r.certificate.serial for r in Registry(postgres_url).certificates()] == [
        first.certificate.serial, second.certificate.serial]
    assert "Hệ thống TTHC Huế" in render_site(registry, tmp_path / "site").read_text(encoding="utf-8")

    import sqlalchemy as sa

    with registry.engine.begin() as connection:
        connection.execute(sa.text("UPDATE log_entries SET at = '2020-01-01T00:00:00+00:00' "
                                   "WHERE seq = 2"))
    assert any("changed after it was written" in r for r in check(second).reasons)
    with registry.engine.begin() as connection:
        connection.execute(sa.text("DELETE FROM log_entries WHERE seq = 1"))
    assert any("an entry was deleted" in r for r in check(second).reasons)
