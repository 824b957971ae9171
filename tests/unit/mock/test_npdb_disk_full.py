"""Issue 24 item 8: disk full under the mock's state dir. Calls fail closed (500, no data), the
audit sequence has no gap, /admin/health says degraded while it lasts, and one audit entry records
the outage (calls failed closed, from, to) when space returns.

Disk full is injected through the audit log's two writes (the journal's ``write()`` and the SQLite
transaction) raising ENOSPC; bench/hostile.py's ``mock-disk-full`` case fills a real tmpfs.
"""

from __future__ import annotations

import errno
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from popcert_npdb import audit as audit_module
from popcert_npdb.admin_app import build_admin_app
from popcert_npdb.app import build_data_app
from popcert_npdb.audit import AuditLog
from popcert_npdb.server import build_state
from popcert_npdb.tokens import TokenMinter


class DiskFull:
    """While ``full``, the journal write and the database write fail as a full disk does."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.full = False
        journal_write, insert = audit_module._journal_write, AuditLog._insert

        def write(fd: int, data: bytes) -> None:
            if self.full:
                raise OSError(errno.ENOSPC, "No space left on device")
            journal_write(fd, data)

        def insert_rows(log: AuditLog, rows: list[tuple[Any, ...]]) -> None:
            if self.full:
                raise sqlite3.OperationalError("database or disk is full")
            insert(log, rows)

        monkeypatch.setattr(audit_module, "_journal_write", write)
        monkeypatch.setattr(AuditLog, "_insert", insert_rows)


def test_the_audit_log_fails_closed_and_records_one_outage(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    disk = DiskFull(monkeypatch)
    log = AuditLog(tmp_path / "audit.sqlite")
    for n in range(5):
        log.record(client_id="c", method="GET", endpoint="/x", path="/x", status=200,
                   request_id=f"before-{n}")
    disk.full = True
    for n in range(7):
        with pytest.raises(OSError):
            log.record(client_id="c", method="GET", endpoint="/x", path="/x", status=200,
                       request_id=f"lost-{n}")
    with pytest.raises(sqlite3.OperationalError):
        log.flush()
    health = log.outage.health()
    assert health["state"] == "degraded" and health["calls_failed_closed"] == 7
    assert health["flush_failures"] == 1 and health["error"] == "database or disk is full"
    disk.full = False
    log.flush()  # the database takes a write again: the outage's entry is journalled
    assert log.outage.health() == {"state": "ok", "outages_recorded": 1}
    entries = log.query()
    assert [e["request_id"] for e in entries[:5]] == [f"before-{n}" for n in range(5)]
    outage = [e for e in entries if e["endpoint"] == "audit-outage"]
    assert len(outage) == 1 and len(entries) == 6
    facts = outage[0]["fields_returned"]
    assert "calls_failed_closed:7" in facts and "flush_failures:1" in facts
    assert any(f.startswith("from:") for f in facts) and any(f.startswith("to:") for f in facts)
    # No gap: the sequence counts journalled entries only, and survives a restart.
    log.record(client_id="c", method="GET", endpoint="/x", path="/x", status=200, request_id="after")
    log.close()
    reopened = AuditLog(tmp_path / "audit.sqlite")
    assert reopened._flushed_seq() == 7 and len(reopened.query()) == 7
    reopened.close()


def test_a_torn_journal_line_does_not_swallow_the_next_entry(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """A write cut short by a full disk leaves part of a line; the next entry starts afresh and
    is replayed after a kill."""
    log = AuditLog(tmp_path / "audit.sqlite")
    journal_write = audit_module._journal_write

    def half(fd: int, data: bytes) -> None:
        journal_write(fd, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(audit_module, "_journal_write", half)
    with pytest.raises(OSError):
        log.record(client_id="c", method="GET", endpoint="/x", path="/x", status=200,
                   request_id="torn")
    monkeypatch.setattr(audit_module, "_journal_write", journal_write)
    log.record(client_id="c", method="GET", endpoint="/x", path="/x", status=200, request_id="next")
    # Killed here: nothing flushed. The next process replays the journal.
    replayed = AuditLog(tmp_path / "audit.sqlite")
    assert [e["request_id"] for e in replayed.query()] == ["next"]
    replayed.close()


def test_calls_fail_closed_and_health_reports_the_outage(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    disk = DiskFull(monkeypatch)
    state = build_state(tmp_path / "npdb", population=20_000, seed=6, mtls="off")
    minter = TokenMinter(tmp_path / "npdb")
    data = TestClient(build_data_app(state), base_url="https://testserver",
                      raise_server_exceptions=False)
    admin = TestClient(build_admin_app(state), base_url="http://testserver",
                       raise_server_exceptions=False)
    token = minter.mint("city-system", "citizen.read", audience="npdb")
    person = state.population.citizen(1).personal_id

    def call() -> Any:
        return data.get(f"/npdb/v1/citizens/{person}", headers={
            "Authorization": f"Bearer {token}", "X-Request-Id": str(uuid.uuid4()),
            "X-Purpose-Code": "1.001193"})

    assert call().status_code == 200
    before = admin.get("/admin/audit/mark").json()["last_id"]
    disk.full = True
    answers = [call() for _ in range(20)]
    assert {a.status_code for a in answers} == {500}
    assert all(person not in a.text and a.json()["error"] == "audit_unavailable" for a in answers)
    health = admin.get("/admin/health").json()
    assert health["ok"] is False and health["audit"]["state"] == "degraded"
    assert health["audit"]["calls_failed_closed"] == 20
    assert admin.get("/admin/audit").status_code == 503  # never an answer missing entries
    disk.full = False
    assert call().status_code == 200
    state.audit.flush()  # the server's 0.25 s flush task
    health = admin.get("/admin/health").json()
    assert health["ok"] is True and health["audit"] == {"state": "ok", "outages_recorded": 1}
    entries = admin.get("/admin/audit", params={"since_id": before}).json()["entries"]
    assert [e["endpoint"] for e in entries].count("audit-outage") == 1
    assert "calls_failed_closed:20" in next(e for e in entries
                                            if e["endpoint"] == "audit-outage")["fields_returned"]
    data.close()
    admin.close()
    state.audit.close()
