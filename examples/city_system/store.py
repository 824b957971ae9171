"""Dossier store: SQLite in WAL mode, so a dossier is durable before any NPDB call is made.

Used from the server's event loop thread only; statements are short, so they run inline.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS dossiers (
  dossier_id TEXT PRIMARY KEY, client_id TEXT NOT NULL, procedure_code TEXT NOT NULL,
  status TEXT NOT NULL, outcome TEXT, reasons TEXT NOT NULL, applicant TEXT NOT NULL,
  details TEXT NOT NULL, body_hash TEXT NOT NULL, idempotency_key TEXT,
  created_at REAL NOT NULL, updated_at REAL NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at REAL NOT NULL DEFAULT 0);
CREATE UNIQUE INDEX IF NOT EXISTS dossier_idem ON dossiers(client_id, idempotency_key)
  WHERE idempotency_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS dossier_due ON dossiers(status, next_attempt_at);
CREATE INDEX IF NOT EXISTS dossier_client ON dossiers(client_id, created_at);
CREATE TABLE IF NOT EXISTS events (
  event_id TEXT PRIMARY KEY, type TEXT NOT NULL, personal_id TEXT NOT NULL, received_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS subscriptions (
  subscription_id TEXT PRIMARY KEY, secret TEXT NOT NULL, created_at REAL NOT NULL);
"""

WAITING = ("received", "pending_npdb")


@dataclass(frozen=True)
class DossierRecord:
    dossier_id: str
    client_id: str
    procedure_code: str
    status: str
    outcome: str | None
    reasons: list[str]
    applicant: dict[str, Any]
    details: dict[str, Any]
    body_hash: str
    idempotency_key: str | None
    created_at: float
    updated_at: float
    attempts: int


class DossierStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across app crashes
        self._db.executescript(_SCHEMA)
        # a dossier left in 'processing' by a crash is picked up again
        self._db.execute("UPDATE dossiers SET status='received' WHERE status='processing'")

    def close(self) -> None:
        self._db.close()

    def insert(self, record: DossierRecord) -> None:
        self._db.execute(
            "INSERT INTO dossiers VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (record.dossier_id, record.client_id, record.procedure_code, record.status, record.outcome,
             json.dumps(record.reasons), json.dumps(record.applicant, ensure_ascii=False),
             json.dumps(record.details, ensure_ascii=False), record.body_hash, record.idempotency_key,
             record.created_at, record.updated_at, record.attempts, 0.0))

    def get(self, dossier_id: str) -> DossierRecord | None:
        row = self._db.execute("SELECT * FROM dossiers WHERE dossier_id=?", (dossier_id,)).fetchone()
        return _record(row) if row else None

    def by_idempotency_key(self, client_id: str | None, key: str) -> DossierRecord | None:
        """The client's dossier submitted with ``key`` (any client's when ``client_id`` is None)."""
        if client_id is None:
            row = self._db.execute("SELECT * FROM dossiers WHERE idempotency_key=? ORDER BY created_at",
                                   (key,)).fetchone()
        else:
            row = self._db.execute("SELECT * FROM dossiers WHERE client_id=? AND idempotency_key=?",
                                   (client_id, key)).fetchone()
        return _record(row) if row else None

    def list_for(self, client_id: str | None, status: str | None, limit: int) -> list[DossierRecord]:
        """The client's dossiers, newest first (every client's when ``client_id`` is None)."""
        sql = "SELECT * FROM dossiers WHERE " + ("client_id=?" if client_id is not None else "1=1")
        args: list[Any] = [client_id] if client_id is not None else []
        if status:
            sql += " AND status=?"
            args.append(status)
        sql += " ORDER BY created_at DESC LIMIT ?"
        args.append(limit)
        return [_record(r) for r in self._db.execute(sql, args).fetchall()]

    def claim_due(self, now: float, limit: int) -> list[DossierRecord]:
        """Mark up to ``limit`` waiting dossiers as processing and return them."""
        rows = self._db.execute(
            "SELECT * FROM dossiers WHERE status IN (?,?) AND next_attempt_at<=? "
            "ORDER BY next_attempt_at, created_at LIMIT ?", (*WAITING, now, limit)).fetchall()
        for row in rows:
            self._db.execute("UPDATE dossiers SET status='processing', updated_at=? WHERE dossier_id=?",
                             (now, row["dossier_id"]))
        return [_record(r) for r in rows]

    def finish(self, dossier_id: str, status: str, outcome: str | None, reasons: list[str]) -> None:
        self._db.execute("UPDATE dossiers SET status=?, outcome=?, reasons=?, updated_at=? WHERE dossier_id=?",
                         (status, outcome, json.dumps(reasons), time.time(), dossier_id))

    def postpone(self, dossier_id: str, next_attempt_at: float, reason: str) -> None:
        self._db.execute(
            "UPDATE dossiers SET status='pending_npdb', reasons=?, attempts=attempts+1, next_attempt_at=?, "
            "updated_at=? WHERE dossier_id=?", (json.dumps([reason]), next_attempt_at, time.time(), dossier_id))

    def delete(self, dossier_id: str) -> None:
        self._db.execute("DELETE FROM dossiers WHERE dossier_id=?", (dossier_id,))

    def record_event(self, event_id: str, event_type: str, personal_id: str) -> bool:
        """Store a notification event; False if this event_id was already processed."""
        cursor = self._db.execute("INSERT OR IGNORE INTO events VALUES (?,?,?,?)",
                                  (event_id, event_type, personal_id, time.time()))
        return cursor.rowcount == 1

    def add_subscription(self, subscription_id: str, secret: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO subscriptions VALUES (?,?,?)",
                         (subscription_id, secret, time.time()))

    def subscription_secrets(self) -> list[str]:
        return [r["secret"] for r in self._db.execute("SELECT secret FROM subscriptions").fetchall()]


def _record(row: sqlite3.Row) -> DossierRecord:
    return DossierRecord(
        dossier_id=row["dossier_id"], client_id=row["client_id"], procedure_code=row["procedure_code"],
        status=row["status"], outcome=row["outcome"], reasons=json.loads(row["reasons"]),
        applicant=json.loads(row["applicant"]), details=json.loads(row["details"]),
        body_hash=row["body_hash"], idempotency_key=row["idempotency_key"],
        created_at=row["created_at"], updated_at=row["updated_at"], attempts=row["attempts"])
