"""The registry of issued certificates: SQLite by default, PostgreSQL through the same code when a
URL is given (SQLAlchemy Core). Status is derived from the signed log (harness.certificate.log),
never from a mutable column alone: a row edited back to "not revoked" still shows as revoked.

Location: ``--registry`` (a path or a SQLAlchemy URL such as postgresql+psycopg://user@host/db),
else POPCERT_REGISTRY, else $XDG_DATA_HOME/popcert/registry.sqlite3 (~/.local/share by default).
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from harness.certificate import checkpoint as checkpoints
from harness.certificate import log as cert_log
from harness.certificate.model import Certificate, CertificateError, iso, now_utc
from harness.signing.canonical import canonical_json

REGISTRY_ENV = "POPCERT_REGISTRY"

metadata = sa.MetaData()
certificates = sa.Table(
    "certificates", metadata,
    sa.Column("serial", sa.String(64), primary_key=True),
    sa.Column("system_name", sa.Text, nullable=False, index=True),
    sa.Column("organisation", sa.Text, nullable=False),
    sa.Column("level", sa.String(32), nullable=False),
    sa.Column("profile", sa.String(64), nullable=False),
    sa.Column("issued_at", sa.String(40), nullable=False),
    sa.Column("not_after", sa.String(40), nullable=False),
    sa.Column("assessor", sa.Text, nullable=False),
    sa.Column("report_sha256", sa.String(64), nullable=False),
    sa.Column("certificate_json", sa.Text, nullable=False),
    sa.Column("signature", sa.Text, nullable=False),  # base64 of the 64-byte Ed25519 signature
    sa.Column("revoked_at", sa.String(40)),
    sa.Column("revoked_reason", sa.Text),
)
log_entries = sa.Table(
    "log_entries", metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("at", sa.String(40), nullable=False),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("serial", sa.String(64), nullable=False, index=True),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False, unique=True),  # one successor per entry
    sa.Column("signer", sa.Text, nullable=False),
    sa.Column("entry_hash", sa.String(64), nullable=False),
    sa.Column("signature", sa.Text, nullable=False),
)


def default_location() -> str:
    if os.environ.get(REGISTRY_ENV):
        return os.environ[REGISTRY_ENV]
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return str(Path(data_home).expanduser() / "popcert" / "registry.sqlite3")


def database_url(location: str | Path | None) -> str:
    """A SQLAlchemy URL for a path or URL; a plain path is an SQLite file (folders created)."""
    text = str(location) if location is not None else default_location()
    if "://" in text:
        return text
    path = Path(text).expanduser().resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


@dataclass(frozen=True)
class RegisteredCertificate:
    certificate: Certificate
    signature: bytes
    revoked_at: str | None
    revoked_reason: str | None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


class Registry:
    def __init__(self, location: str | Path | None = None) -> None:
        self.url = database_url(location)
        try:
            self.engine = sa.create_engine(self.url)
            metadata.create_all(self.engine)
        except (SQLAlchemyError, ModuleNotFoundError) as problem:
            raise CertificateError(f"certificate registry {self.display_url()}: cannot open it "
                                   f"({_first_line(problem)})") from None

    def display_url(self) -> str:
        return sa.engine.make_url(self.url).render_as_string(hide_password=True)

    @contextmanager
    def _transaction(self) -> Iterator[sa.Connection]:
        try:
            with self.engine.begin() as connection:
                yield connection
        except IntegrityError:
            raise CertificateError("the registry changed while this command ran (another issue or "
                                   "revoke, or a serial that already exists) — run it again") from None
        except SQLAlchemyError as problem:
            raise self._unusable(problem) from None

    @contextmanager
    def _reading(self) -> Iterator[sa.Connection]:
        try:
            with self.engine.connect() as connection:
                yield connection
        except SQLAlchemyError as problem:
            raise self._unusable(problem) from None

    def _unusable(self, problem: BaseException) -> CertificateError:
        # A locked, unreachable or foreign database is a usage problem, not a harness bug.
        return CertificateError(f"certificate registry {self.display_url()}: {_first_line(problem)}")

    # --- writing ------------------------------------------------------------------------------
    def add(self, certificate: Certificate, signature: bytes, key: Ed25519PrivateKey) -> cert_log.LogEntry:
        """Record an issued certificate and append its `issue` entry to the log, atomically."""
        document = certificate.document
        self._refuse_if_truncated()
        with self._transaction() as connection:
            entry = cert_log.new_entry(
                self._head(connection), at=iso(now_utc()), action=cert_log.ISSUE,
                serial=certificate.serial, key=key,
                detail={"certificate_sha256": certificate.sha256,
                        "system": document["system"]["name"], "not_after": document["not_after"]})
            connection.execute(certificates.insert().values(
                serial=certificate.serial, system_name=document["system"]["name"],
                organisation=document["system"]["organisation"], level=document["system"]["level"],
                profile=document["profile"]["name"], issued_at=document["issued_at"],
                not_after=document["not_after"], assessor=document["assessor"]["name"],
                report_sha256=document["report"]["sha256"],
                certificate_json=certificate.raw.decode("utf-8"),
                signature=base64.b64encode(signature).decode("ascii")))
            self._append(connection, entry)
        self.publish_checkpoint(key)
        return entry

    def revoke(self, serial: str, reason: str, key: Ed25519PrivateKey) -> cert_log.LogEntry:
        if not reason.strip():
            raise CertificateError("a revocation needs a reason: --reason 'firewall policy changed'")
        self._refuse_if_truncated()
        with self._transaction() as connection:
            row = connection.execute(sa.select(certificates.c.revoked_at).where(
                certificates.c.serial == serial)).first()
            if row is None:
                raise CertificateError(f"no certificate {serial} in the registry "
                                       "(see `popcert certificate list`)")
            if row.revoked_at is not None or serial in self._revoked_in_log(connection):
                raise CertificateError(f"certificate {serial} is already revoked")
            at = iso(now_utc())
            entry = cert_log.new_entry(self._head(connection), at=at, action=cert_log.REVOKE,
                                       serial=serial, detail={"reason": reason.strip()}, key=key)
            connection.execute(certificates.update().where(certificates.c.serial == serial).values(
                revoked_at=at, revoked_reason=reason.strip()))
            self._append(connection, entry)
        self.publish_checkpoint(key)
        return entry

    # --- checkpoints (harness/certificate/checkpoint.py) ------------------------------------
    def publish_checkpoint(self, key: Ed25519PrivateKey) -> checkpoints.Checkpoint:
        """Sign the log's size and head, write it beside an SQLite database and remember it."""
        checkpoint = checkpoints.make_checkpoint(self.log(), key)
        beside = checkpoints.beside_database(self.url)
        if beside is not None:
            checkpoints.write_checkpoint(beside, checkpoint)
        checkpoints.remember(self.url, checkpoint)
        return checkpoint

    def checkpoint_review(self, trusted: Sequence[Ed25519PublicKey],
                          given: Iterable[Path] = ()) -> checkpoints.CheckpointReview:
        """The log against the checkpoints given, beside the database and seen before."""
        return checkpoints.review(self.log(), self.url, trusted, given)

    def _refuse_if_truncated(self) -> None:
        problems = checkpoints.before_write_problems(self.log(), self.url)
        if problems:
            raise CertificateError("the registry's log does not extend its checkpoint, nothing "
                                   "written (restore the database from a backup and check it "
                                   "with `popcert certificate verify`):\n"
                                   + "\n".join(f"  - {problem}" for problem in problems))

    @staticmethod
    def _append(connection: sa.Connection, entry: cert_log.LogEntry) -> None:
        connection.execute(log_entries.insert().values(
            seq=entry.seq, at=entry.at, action=entry.action, serial=entry.serial,
            detail=canonical_json(entry.detail).decode("utf-8"), prev_hash=entry.prev_hash,
            signer=entry.signer, entry_hash=entry.entry_hash, signature=entry.signature))

    @staticmethod
    def _head(connection: sa.Connection) -> cert_log.LogEntry | None:
        row = connection.execute(sa.select(log_entries).order_by(log_entries.c.seq.desc())
                                 .limit(1)).first()
        return _entry(row) if row is not None else None

    @staticmethod
    def _revoked_in_log(connection: sa.Connection) -> set[str]:
        return set(connection.execute(sa.select(log_entries.c.serial).where(
            log_entries.c.action == cert_log.REVOKE)).scalars())

    # --- reading ------------------------------------------------------------------------------
    def certificates(self) -> list[RegisteredCertificate]:
        """Every certificate, oldest first; revocation taken from the log as well as the row."""
        with self._reading() as connection:
            rows = connection.execute(sa.select(certificates)).all()
            # issued_at has second resolution: ties go in the order the log recorded the issues
            issue_seq = dict(connection.execute(sa.select(log_entries.c.serial, log_entries.c.seq)
                                                .where(log_entries.c.action == cert_log.ISSUE)).all())
            revocations = self._revocations(connection)
        in_order = sorted(rows, key=lambda row: (row.issued_at, issue_seq.get(row.serial, 0), row.serial))
        return [_registered(row, revocations) for row in in_order]

    def get(self, serial: str) -> RegisteredCertificate | None:
        with self._reading() as connection:
            row = connection.execute(sa.select(certificates).where(
                certificates.c.serial == serial)).first()
            return _registered(row, self._revocations(connection)) if row is not None else None

    def log(self) -> list[cert_log.LogEntry]:
        with self._reading() as connection:
            return [_entry(row) for row in connection.execute(
                sa.select(log_entries).order_by(log_entries.c.seq)).all()]

    @staticmethod
    def _revocations(connection: sa.Connection) -> dict[str, tuple[str, str]]:
        rows = connection.execute(sa.select(log_entries).where(
            log_entries.c.action == cert_log.REVOKE)).all()
        return {row.serial: (row.at, _detail(row).get("reason", "")) for row in rows}

    def integrity_problems(self, trusted: Iterable[Ed25519PublicKey]) -> list[str]:
        """The log's chain, and the certificates table against it (a row the log never issued, a
        certificate whose bytes differ from what was logged, a revocation missing from the row)."""
        entries = self.log()
        problems = cert_log.chain_problems(entries, trusted)
        issued = {e.serial: e for e in entries if e.action == cert_log.ISSUE}
        revoked = {e.serial for e in entries if e.action == cert_log.REVOKE}
        with self._reading() as connection:
            row_revoked = {row.serial: row.revoked_at for row in connection.execute(
                sa.select(certificates.c.serial, certificates.c.revoked_at))}
        for registered in self.certificates():
            serial = registered.certificate.serial
            entry = issued.get(serial)
            if entry is None:
                problems.append(f"certificate {serial}: in the registry but never issued in the log")
            elif entry.detail.get("certificate_sha256") != registered.certificate.sha256:
                problems.append(f"certificate {serial}: its stored content differs from the one "
                                "the log recorded at issue")
            if serial in revoked and row_revoked.get(serial) is None:
                problems.append(f"certificate {serial}: the log revoked it but the registry row "
                                "says otherwise")
            if serial not in revoked and row_revoked.get(serial) is not None:
                problems.append(f"certificate {serial}: revoked in the registry but the log has no "
                                "signed revocation")
        for serial in set(issued) - {r.certificate.serial for r in self.certificates()}:
            problems.append(f"certificate {serial}: issued in the log but missing from the registry")
        return problems


def _detail(row: Any) -> dict[str, Any]:
    try:
        loaded = json.loads(row.detail)
    except ValueError:
        return {"unreadable": row.detail}
    return loaded if isinstance(loaded, dict) else {"unreadable": row.detail}


def _entry(row: Any) -> cert_log.LogEntry:
    return cert_log.LogEntry(seq=row.seq, at=row.at, action=row.action, serial=row.serial,
                             detail=_detail(row), prev_hash=row.prev_hash, signer=row.signer,
                             entry_hash=row.entry_hash, signature=row.signature)


def _registered(row: Any, revocations: dict[str, tuple[str, str]]) -> RegisteredCertificate:
    certificate = Certificate(json.loads(row.certificate_json), row.certificate_json.encode("utf-8"))
    at, reason = revocations.get(row.serial, (row.revoked_at, row.revoked_reason))
    return RegisteredCertificate(certificate, base64.b64decode(row.signature), at, reason)


def _first_line(problem: BaseException) -> str:
    return (str(problem).strip().splitlines() or [type(problem).__name__])[0][:200]
