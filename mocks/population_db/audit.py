"""Audit log of every NPDB call, in SQLite, written in batches so logging never limits throughput.

Write-ahead: ``record()`` appends the entry to a journal file (one ``write()``, before the call is
answered) and to an in-memory buffer; ``flush()`` (run periodically, and before every query)
writes the buffer in one transaction, with multi-row INSERTs, then drops the journal segment it
covered. Opening the log replays what a killed process journalled but never flushed, so an
answered call is in the audit log even after ``kill -9`` (the kernel holds the written journal;
a power cut is not in a test mock's brief).

Disk full fails closed: an entry that cannot be journalled raises (the call is answered 500),
takes no sequence number, and is counted in the open outage (``audit_outage.py``); a database
write that fails keeps its entries in memory and in the journal. When a write works again, one
entry (``endpoint="audit-outage"``) records the outage.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import sqlite3
import sys
import threading
import time
from pathlib import Path
from typing import Any

import orjson

from popcert_npdb.audit_outage import Outage, OutageTracker

COLUMNS = ("ts", "client_id", "method", "endpoint", "path", "purpose_code", "request_id",
           "personal_ids", "fields_requested", "fields_returned", "status", "latency_ms",
           "auth_method", "run_id")
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
            get("status"), get("latency_ms"), get("auth_method"), get("run_id"))


_ONE_ROW = "(" + ", ".join("?" * len(COLUMNS)) + ")"


def _insert_sql(n_rows: int) -> str:
    return f"INSERT INTO audit ({', '.join(COLUMNS)}) VALUES " + ", ".join([_ONE_ROW] * n_rows)


# Statements for 256 rows (x 14 parameters, well under SQLite's limit of 32,766), 128, ..., 1:
# any batch is a few of them, and all nine stay in the connection's statement cache.
_INSERTS = {n: _insert_sql(n) for n in (1 << k for k in range(8, -1, -1))}


JOURNAL_PREFIX = "audit-journal."


def _journal_write(fd: int, data: bytes) -> None:
    """One ``write()`` of a whole journal line; OSError (ENOSPC) when the disk took less."""
    if os.write(fd, data) != len(data):
        raise OSError(errno.ENOSPC, "the audit journal took part of an entry (disk full?)")


def _journal_line(seq: int, row: tuple[Any, ...]) -> bytes:
    try:
        return orjson.dumps([seq, *row]) + b"\n"
    except TypeError:  # e.g. a lone surrogate: json escapes what orjson refuses
        return json.dumps([seq, *row]).encode() + b"\n"


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
        present = {row[1] for row in self._db.execute("PRAGMA table_info(audit)")}
        for column in COLUMNS:  # a state dir from an older mock: add the newer columns
            if column not in present:
                self._db.execute(f"ALTER TABLE audit ADD COLUMN {column} "
                                 f"{COLUMN_TYPES.get(column, 'TEXT')}")
        self._db.execute("CREATE INDEX IF NOT EXISTS audit_run ON audit (run_id)")
        self._db.execute("CREATE TABLE IF NOT EXISTS audit_meta (name TEXT PRIMARY KEY, "
                         "value INTEGER)")
        self._buffer: list[tuple[Any, ...]] = []
        self.outage = OutageTracker()
        self._torn = False  # a failed write may have left part of a line: start the next afresh
        # Journal segments whose entries are in the buffer: dropped once a flush commits them.
        self._covered: list[tuple[Path, int]] = []
        self._lock = threading.Lock()  # the database connection
        self._append = threading.Lock()  # buffer + journal segment: one generation per flush
        self._flushing = threading.Lock()  # flushes in seq order, one at a time
        self._dir = db_path.parent
        self._stem = db_path.name
        self._seq = self._replay()
        self._segment_no = 0
        self._segment_path, self._journal = self._open_segment()

    # --- journal ------------------------------------------------------------------------------
    def _segments(self) -> list[Path]:
        found = self._dir.glob(f"{self._stem}.{JOURNAL_PREFIX}*")
        return sorted(found, key=lambda p: int(p.name.rsplit(".", 1)[1] or 0)
                      if p.name.rsplit(".", 1)[1].isdigit() else -1)

    def _open_segment(self) -> tuple[Path, int]:
        self._segment_no += 1
        path = self._dir / f"{self._stem}.{JOURNAL_PREFIX}{os.getpid()}{self._segment_no:09d}"
        return path, os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    def _flushed_seq(self) -> int:
        row = self._db.execute("SELECT value FROM audit_meta WHERE name = 'seq'").fetchone()
        return int(row[0]) if row else 0

    def _replay(self) -> int:
        """Insert what a previous process journalled but never flushed; returns the last seq."""
        flushed = self._flushed_seq()
        segments = self._segments()
        by_seq: dict[int, tuple[Any, ...]] = {}  # a seq written again after a torn line: the last
        for segment in segments:
            for line in segment.read_bytes().splitlines():
                try:
                    seq, *row = orjson.loads(line)
                except (orjson.JSONDecodeError, ValueError, TypeError):
                    continue  # a line cut short (kill, disk full): its call was never answered
                if int(seq) > flushed and len(row) == len(COLUMNS):
                    by_seq[int(seq)] = tuple(row)
        pending = sorted(by_seq.items(), key=lambda item: item[0])
        last = max([flushed, *(seq for seq, _ in pending)])
        self._db.execute("BEGIN")
        self._insert([row for _, row in pending])
        self._db.execute("INSERT OR REPLACE INTO audit_meta (name, value) VALUES ('seq', ?)",
                         (last,))
        self._db.execute("COMMIT")
        for segment in segments:
            segment.unlink(missing_ok=True)
        return last

    def record(self, **entry: Any) -> None:
        """Journal one call's entry; OSError (the call must fail closed) when it cannot be."""
        self._append_entry(entry, call=True)

    def _append_entry(self, entry: dict[str, Any], *, call: bool) -> None:
        entry.setdefault("ts", time.time())
        row = _row(entry)
        with self._append:
            line = _journal_line(self._seq + 1, row)
            try:
                _journal_write(self._journal, b"\n" + line if self._torn else line)
            except OSError as error:
                self._torn = True
                if call:
                    self.outage.failed(error, call=True)
                raise
            self._torn = False
            self._seq += 1  # taken only by a journalled entry: no gap in the sequence
            self._buffer.append(row)

    def flush(self) -> int:
        """Write the buffered entries to the database; on failure they stay buffered and
        journalled, the outage is counted and the error raised."""
        with self._flushing:
            with self._append:
                rows, self._buffer = self._buffer, []
                last_seq = self._seq
                if not rows and self.outage.open is None:
                    return 0
                covered, self._covered = self._covered, []
                if rows:
                    try:
                        fresh = self._open_segment()
                    except OSError:  # no room for a new segment: keep appending to this one
                        fresh = None
                    if fresh is not None:
                        covered.append((self._segment_path, self._journal))
                        (self._segment_path, self._journal), self._torn = fresh, False
            try:
                with self._lock:
                    # Explicit transaction: in autocommit mode every row would be its own commit.
                    self._db.execute("BEGIN")
                    try:
                        self._insert(rows)
                        self._db.execute("INSERT OR REPLACE INTO audit_meta (name, value) "
                                         "VALUES ('seq', ?)", (last_seq,))
                        self._db.execute("COMMIT")
                    except BaseException:
                        with contextlib.suppress(sqlite3.Error):  # SQLite may have rolled back
                            self._db.execute("ROLLBACK")
                        raise
            except (OSError, sqlite3.Error) as error:
                with self._append:  # kept, in order, for the next flush
                    self._buffer[:0] = rows
                    self._covered[:0] = covered
                self.outage.failed(error, call=False)
                raise
            for path, journal in covered:
                os.close(journal)
                path.unlink(missing_ok=True)
            self._record_outage_if_over()
            return len(rows)

    def _record_outage_if_over(self) -> None:
        """The database took a write: if an outage was open, its entry is the journal's test."""
        if self.outage.open is None:
            return
        ended: Outage | None = self.outage.close()
        if ended is None:
            return
        try:
            self._append_entry(ended.entry(time.time()), call=False)
        except OSError:
            self.outage.reopen(ended)  # the journal still cannot be written: still degraded
        else:
            self.outage.recorded += 1
            print(f"mock NPDB: audit log writable again; outage recorded "
                  f"({ended.calls_failed_closed} calls failed closed)", file=sys.stderr, flush=True)

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
              request_id: str | None = None, limit: int = 10_000,
              run_id: str | None = None) -> list[dict[str, Any]]:
        """Entries after ``since_id``; with ``run_id``, that run's entries plus the entries
        about no run's people (token, JWKS, calls refused before naming anyone)."""
        self.flush()
        sql = f"SELECT id, {', '.join(COLUMNS)} FROM audit WHERE id > ?"
        args: list[Any] = [since_id]
        if run_id:
            sql += " AND (run_id = ? OR run_id IS NULL)"
            args.append(run_id)
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
        try:
            self.flush()
        except (OSError, sqlite3.Error) as error:  # the journal keeps them for the next start
            print(f"mock NPDB: audit entries not written to the database ({error}); they stay "
                  "in the journal and are replayed at the next start", file=sys.stderr, flush=True)
            os.close(self._journal)
            self._db.close()
            return
        os.close(self._journal)
        self._segment_path.unlink(missing_ok=True)
        self._db.close()
