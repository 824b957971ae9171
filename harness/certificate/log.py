"""The registry's append-only log: every issue and revoke is an entry carrying the previous entry's
hash and signed by the assessor who made it, so history cannot be edited, dropped or reordered
without `popcert certificate verify` noticing.

entry_hash = sha256(canonical JSON of {seq, at, action, serial, detail, prev_hash, signer});
signature = Ed25519 over the entry_hash's ASCII hex; the first entry's prev_hash is 64 zeros.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from harness.signing.canonical import canonical_json
from harness.signing.keys import fingerprint

GENESIS = "0" * 64
ISSUE, REVOKE = "issue", "revoke"


@dataclass(frozen=True)
class LogEntry:
    seq: int
    at: str
    action: str
    serial: str
    detail: dict[str, Any]
    prev_hash: str
    signer: str  # the signing key's fingerprint
    entry_hash: str
    signature: str  # base64

    def body(self) -> dict[str, Any]:
        return {"seq": self.seq, "at": self.at, "action": self.action, "serial": self.serial,
                "detail": self.detail, "prev_hash": self.prev_hash, "signer": self.signer}

    def to_json(self) -> dict[str, Any]:
        return {**self.body(), "entry_hash": self.entry_hash, "signature": self.signature}


def entry_hash(body: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(body)).hexdigest()


def new_entry(previous: LogEntry | None, *, at: str, action: str, serial: str,
              detail: dict[str, Any], key: Ed25519PrivateKey) -> LogEntry:
    """The next entry after ``previous`` (None for the first), signed with ``key``."""
    body: dict[str, Any] = {"seq": previous.seq + 1 if previous else 1, "at": at, "action": action,
            "serial": serial, "detail": detail,
            "prev_hash": previous.entry_hash if previous else GENESIS,
            "signer": fingerprint(key.public_key())}
    digest = entry_hash(body)
    signature = base64.b64encode(key.sign(digest.encode("ascii"))).decode("ascii")
    return LogEntry(**body, entry_hash=digest, signature=signature)


def chain_problems(entries: Sequence[LogEntry],
                   trusted: Iterable[Ed25519PublicKey]) -> list[str]:
    """Every break in the chain, in log order; empty when the log is intact and trusted.

    ``entries`` in storage order (by seq). Detects an edited entry (its hash no longer matches),
    a deleted one (a gap in seq, and the next prev_hash points at nothing), a reordering (prev_hash
    links broken) and an entry signed by a key outside the trust store.
    """
    keys = {fingerprint(k): k for k in trusted}
    problems: list[str] = []
    previous_hash, expected_seq = GENESIS, 1
    for entry in entries:
        where = f"log entry {entry.seq} ({entry.action} {entry.serial})"
        if entry.seq != expected_seq:
            problems.append(f"{where}: expected entry {expected_seq} here — an entry was deleted "
                            "or the log was reordered")
        if entry.prev_hash != previous_hash:
            problems.append(f"{where}: does not follow the entry before it (prev_hash "
                            f"{entry.prev_hash[:12]}…, expected {previous_hash[:12]}…)")
        recomputed = entry_hash(entry.body())
        if recomputed != entry.entry_hash:
            problems.append(f"{where}: its content was changed after it was written (hash mismatch)")
        key = keys.get(entry.signer)
        if key is None:
            problems.append(f"{where}: signed by {entry.signer}, a key not in the trust store")
        elif not _signature_ok(key, entry):
            problems.append(f"{where}: signature does not match")
        previous_hash, expected_seq = entry.entry_hash, entry.seq + 1
    return problems


def _signature_ok(key: Ed25519PublicKey, entry: LogEntry) -> bool:
    try:
        key.verify(base64.b64decode(entry.signature, validate=True),
                   entry.entry_hash.encode("ascii"))
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True
