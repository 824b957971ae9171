"""Audit log of every NPDB call, in SQLite, written in batches so logging never limits throughput.

``record()`` only appends to an in-memory buffer; ``flush()`` (run periodically, and before every
query) writes the buffer in one transaction, with multi-row INSERTs.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

COLUMNS = ("ts", "client_id", "method", "endpoint", "path", "purpose_code", "request_id",
           "personal_ids", "fields_requested", "fields_returned", "status", "latency_ms",
           "auth_method")
COLUMN_TYPES = {"ts": "REAL", "latency_ms": "REAL", "status": "INTEGER"}
LIST_COLUMNS = frozenset({"personal_ids", "fields_requested", "fields_returned"})


_ENCODED: dict[tuple[str, ...], str] = {}  # field-name lists repeat on every call


def _json_list(values: Any) -> str:
    """``json.dumps(values)`` (``"[]"`` if empty), with the common shapes short-cut: one plain
    ASCII id, or a repeated list of field names (memoised, bounded)."""
    if not values:
        return "[]"
    if len(values) == 1:
        v = values[0]
        if type(v) is str and v.isascii() and v.isalnum():  # nothing to escape
            return '["' + v + '"]'
        return json.dumps(values)
    try:
        key = tuple(values)
        encoded = _ENCODED.get(key)  # looked up first: on the hot path it is always there
    except TypeError:  # unhashable items
        return json.dumps(values)
    if encoded is None:
        encoded = json.dumps(values)
        # Only all-str lists are kept: a str key never equals a key of other types (1 == 1.0).
        if len(_ENCODED) < 4096 and all(type(v) is str for v in values):
            _ENCODED[key] = encoded
    return encoded


def _row(e: dict[str, Any]) -> tuple[Any, ...]:
    # Spelled out (no generator): this runs once per audited request.
    get = e.get
    return (get("ts"), get("client_id"), get("method"), get("endpoint"), get("path"),
            get("purpose_code"), get("request_id"), _json_list(get("personal_ids")),
            _json_list(get("fields_requested")), _json_list(get("fields_returned")),
            get("status"), get("latency_ms"), get("auth_method"))


_ONE_ROW = "(" + ", ".join("?" * len(COLUMNS)) + ")"


def _insert_sql(n_rows: int) -> str:
    return f"INSERT INTO audit ({', '.join(COLUMNS)}) VALUES " + ", ".join([_ONE_ROW] * n_rows)


# Statements for 256 rows (x 13 parameters, well under SQLite's limit of 32,766), 128, ..., 1:
# any batch is a few of them, and all nine stay in the connection's statement cache.
_INSERTS = {n: _insert_sql(n) for n in (1 << k for k in range(8, -1, -1))}


class AuditLog:
    def __init__(self, db_path: Path) -> None:
        self._db = sqlite3.connect(str(db_path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        # A test mock's audit log need not survive a power cut; fsyncs would cost throughput.
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS audit (id INTEGER PRIMARY KEY AUTOINCREMENT, "
            + ", ".join(f"{c} {COLUMN_TYPES.get(c, 'TEXT')}" for c in COLUMNS)
            + ")")
        self._buffer: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def record(self, **entry: Any) -> None:
        entry.setdefault("ts", time.time())
        self._buffer.append(entry)  # list.append is atomic; encoding waits for flush()

    def flush(self) -> int:
        with self._lock:
            entries, self._buffer = self._buffer, []
            rows = [_row(e) for e in entries]
            if rows:
                # Explicit transaction: in autocommit mode every row would be its own commit.
                self._db.execute("BEGIN")
                try:
                    self._insert(rows)
                    self._db.execute("COMMIT")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
            return len(rows)

    def _insert(self, rows: list[tuple[Any, ...]]) -> None:
        """Multi-row INSERTs of 256, 128, ..., 1 rows. Each is one sqlite3_step, so the worker
        thread releases the GIL once per statement; ``executemany`` releases and re-takes it
        around every row, and each re-take stalls the event loop thread (a GIL hand-off per
        audited request). The sqlite3 module binds the values in C: no JSON round trip."""
        start = 0
        for n_rows, sql in _INSERTS.items():
            while len(rows) - start >= n_rows:
                self._db.execute(sql, [v for row in rows[start:start + n_rows] for v in row])
                start += n_rows

    def query(self, since_id: int = 0, client_id: str | None = None,
              request_id: str | None = None, limit: int = 10_000) -> list[dict[str, Any]]:
        self.flush()
        sql = f"SELECT id, {', '.join(COLUMNS)} FROM audit WHERE id > ?"
        args: list[Any] = [since_id]
        if client_id:
            sql += " AND client_id = ?"
            args.append(client_id)
        if request_id:
            sql += " AND request_id = ?"
            args.append(request_id)
        sql += " ORDER BY id LIMIT ?"
        args.append(limit)
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        out = []
        for row in rows:
            entry = dict(zip(("id", *COLUMNS), row))
            for c in LIST_COLUMNS:
                entry[c] = json.loads(entry[c]) if entry[c] else []
            out.append(entry)
        return out

    def last_id(self) -> int:
        self.flush()
        with self._lock:
            row = self._db.execute("SELECT COALESCE(MAX(id), 0) FROM audit").fetchone()
        return int(row[0])

    def clear(self) -> None:
        self.flush()
        with self._lock:
            self._db.execute("DELETE FROM audit")

    def close(self) -> None:
        self.flush()
        self._db.close()
