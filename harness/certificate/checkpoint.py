"""Signed checkpoints of the registry's log: its size and head hash, signed by a registry key, as
Certificate Transparency (RFC 9162 §4.10, signed tree heads) and Sigstore's Rekor publish them.

The log is a hash chain (harness/certificate/log.py), so an edited or reordered entry shows; but
whoever can write the database can delete its newest entries with their rows, e.g. a revocation,
and clear ``revoked_at``: the shorter chain still checks. A checkpoint pins the log: a log shorter
than a checkpoint, or whose entry at the checkpoint's size is not its head, was truncated or
rewritten. Checkpoints are written beside the database on every issue and revoke (signed by the
acting assessor's trusted key), published with the registry site (``checkpoint.json``), and
remembered: every checkpoint `certificate verify` and `registry site` have checked is kept as the
newest seen for that registry ($POPCERT_CHECKPOINTS, else $XDG_STATE_HOME/popcert/checkpoints),
so deleting the file beside the database or putting an older one there does not help.

checkpoint.json = canonical JSON {"checkpoint": {origin, log_id, size, head, at, signer},
"signature": base64 Ed25519 over the canonical bytes of "checkpoint"}; log_id is the first
entry's hash (which log it pins).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from harness.certificate.log import LogEntry
from harness.certificate.model import CertificateError, iso, now_utc
from harness.signing.canonical import canonical_json
from harness.signing.keys import fingerprint

ORIGIN = "popcert certificate registry log"
FILE_NAME = "checkpoint.json"
BESIDE_SUFFIX = ".checkpoint.json"
STORE_ENV = "POPCERT_CHECKPOINTS"
MAX_BYTES = 16 * 1024


@dataclass(frozen=True)
class Checkpoint:
    body: dict[str, Any]
    signature: str

    @property
    def size(self) -> int:
        return int(self.body["size"])

    @property
    def head(self) -> str:
        return str(self.body["head"])

    @property
    def log_id(self) -> str:
        return str(self.body["log_id"])

    def to_bytes(self) -> bytes:
        return canonical_json({"checkpoint": self.body, "signature": self.signature})

    def describe(self) -> str:
        return f"size {self.size}, head {self.head[:12]}…, signed {self.body.get('at')}"


def make_checkpoint(entries: Sequence[LogEntry], key: Ed25519PrivateKey) -> Checkpoint:
    if not entries:
        raise CertificateError("an empty registry log has nothing to checkpoint")
    body = {"origin": ORIGIN, "log_id": entries[0].entry_hash, "size": len(entries),
            "head": entries[-1].entry_hash, "at": iso(now_utc()),
            "signer": fingerprint(key.public_key())}
    signature = base64.b64encode(key.sign(canonical_json(body))).decode("ascii")
    return Checkpoint(body, signature)


def read_checkpoint(path: Path) -> Checkpoint:
    """A checkpoint file (CertificateError when unreadable or not a checkpoint)."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except OSError as missing:
        raise CertificateError(f"{path}: cannot read the checkpoint ({missing.strerror})") from None
    try:
        document = json.loads(raw[:MAX_BYTES].decode("utf-8"))
        body, signature = document["checkpoint"], document["signature"]
        if not isinstance(body, dict) or body.get("origin") != ORIGIN:
            raise ValueError("not a checkpoint")
        checkpoint = Checkpoint(body, str(signature))
        if checkpoint.size < 1 or len(checkpoint.head) != 64 or len(checkpoint.log_id) != 64:
            raise ValueError("odd values")
    except (UnicodeDecodeError, ValueError, KeyError, TypeError):
        raise CertificateError(f"{path}: not a popcert registry checkpoint") from None
    return checkpoint


def write_checkpoint(path: Path, checkpoint: Checkpoint) -> None:
    """Written whole or not at all (a reader never sees half a checkpoint)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(checkpoint.to_bytes())
    os.replace(partial, path)


def signed_by_trusted(checkpoint: Checkpoint, trusted: Iterable[Ed25519PublicKey]) -> bool:
    for key in trusted:
        if fingerprint(key) != checkpoint.body.get("signer"):
            continue
        try:
            key.verify(base64.b64decode(checkpoint.signature, validate=True),
                       canonical_json(checkpoint.body))
        except (InvalidSignature, binascii.Error, ValueError):
            return False
        return True
    return False


def consistency_problems(entries: Sequence[LogEntry], checkpoint: Checkpoint,
                         where: str) -> list[str]:
    """Why the log is not an extension of the checkpointed one; empty when it is. With the chain
    intact (log.chain_problems), the same entry at the checkpoint's size means the same prefix."""
    if len(entries) < checkpoint.size:
        return [(f"the log has {len(entries)} entries, fewer than the {checkpoint.size} of the "
                 f"checkpoint {where} ({checkpoint.describe()}): entries were deleted — a "
                 "revocation among them would be undone")]
    if entries[0].entry_hash != checkpoint.log_id:
        return [(f"the log's first entry is not the one the checkpoint {where} pins "
                 f"({checkpoint.describe()}): the log was rewritten from its start, or the "
                 "checkpoint is of another registry")]
    at = entries[checkpoint.size - 1]
    if at.entry_hash != checkpoint.head:
        return [(f"log entry {at.seq} ({at.action} {at.serial}) is not the head the checkpoint "
                 f"{where} signed ({checkpoint.describe()}): the log was rewritten")]
    return []


def beside_database(registry_url: str) -> Path | None:
    """``<database>.checkpoint.json`` beside an SQLite registry; None for a server database."""
    prefix = "sqlite:///"
    if not registry_url.startswith(prefix) or registry_url == prefix + ":memory:":
        return None
    database = Path(registry_url.removeprefix(prefix))
    return database.with_name(database.name + BESIDE_SUFFIX)


def seen_store() -> Path:
    if os.environ.get(STORE_ENV):
        return Path(os.environ[STORE_ENV]).expanduser()
    state_home = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state_home).expanduser() / "popcert" / "checkpoints"


def seen_path(registry_url: str) -> Path:
    return seen_store() / (hashlib.sha256(registry_url.encode("utf-8")).hexdigest()[:32] + ".json")


@dataclass(frozen=True)
class CheckpointReview:
    problems: list[str]
    newest: Checkpoint | None  # the largest trusted checkpoint the log is consistent with


def review(entries: Sequence[LogEntry], registry_url: str, trusted: Sequence[Ed25519PublicKey],
           given: Iterable[Path] = ()) -> CheckpointReview:
    """The log against every checkpoint given, beside the database and seen before.

    A checkpoint given or beside the database that no trusted key signed is itself a problem.
    When the log is consistent with all of them, the newest becomes the one seen for this
    registry (never a smaller one).
    """
    problems: list[str] = []
    candidates: list[tuple[str, Path]] = [(f"given as {path}", path) for path in given]
    beside = beside_database(registry_url)
    if beside is not None and beside.is_file():
        candidates.append((f"beside the database ({beside.name})", beside))
    seen = seen_path(registry_url)
    if seen.is_file():
        candidates.append((f"seen before ({seen})", seen))
    checked: list[Checkpoint] = []
    for where, path in candidates:
        try:
            checkpoint = read_checkpoint(path)
        except CertificateError as unreadable:
            problems.append(str(unreadable))
            continue
        if not signed_by_trusted(checkpoint, trusted):
            problems.append(f"the checkpoint {where} is not signed by a key in the trust store "
                            f"(signer {checkpoint.body.get('signer')}) — trust the registry's "
                            "assessor keys, or it is forged")
            continue
        problems.extend(consistency_problems(entries, checkpoint, where))
        checked.append(checkpoint)
    newest = max(checked, key=lambda c: c.size) if checked else None
    if not problems and newest is not None:
        remembered = _read_or_none(seen)
        if remembered is None or remembered.size < newest.size:
            write_checkpoint(seen, newest)
    return CheckpointReview(problems, newest)


def remember(registry_url: str, checkpoint: Checkpoint) -> None:
    """Keep ``checkpoint`` as the newest seen for this registry (the one who wrote it saw it)."""
    seen = seen_path(registry_url)
    remembered = _read_or_none(seen)
    if remembered is None or remembered.size < checkpoint.size:
        write_checkpoint(seen, checkpoint)


def before_write_problems(entries: Sequence[LogEntry], registry_url: str) -> list[str]:
    """The log against the checkpoints beside the database and seen, before a new entry is
    appended: a new checkpoint must never be signed over a log that was truncated or rewritten
    (it would launder the deletion). Signatures are checked by verify; here a file that does
    not even agree with the log stops the write."""
    problems = []
    beside = beside_database(registry_url)
    for where, path in (("beside the database", beside), ("seen before", seen_path(registry_url))):
        checkpoint = _read_or_none(path) if path is not None else None
        if checkpoint is not None:
            problems.extend(consistency_problems(entries, checkpoint, where))
    return problems


def _read_or_none(path: Path) -> Checkpoint | None:
    try:
        return read_checkpoint(path) if path.is_file() else None
    except CertificateError:
        return None
