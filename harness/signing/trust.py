"""The assessor trust store: the public keys whose signatures `popcert verify` accepts.

A report folder is written by whoever hands the report over, so a key found next to the report
proves nothing. Keys are trusted once, on purpose (`popcert keys trust PUB.pem`), into a folder
under the user's config dir, or the folder POPCERT_TRUST_STORE / `--trust-store` names.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from harness.signing.keys import KeyFileError, fingerprint, load_public_key

TRUST_STORE_ENV = "POPCERT_TRUST_STORE"
KEY_SUFFIX = ".pub.pem"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class TrustedKey:
    name: str
    path: Path
    key: Ed25519PublicKey

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.key)


def default_trust_store() -> Path:
    """POPCERT_TRUST_STORE, else $XDG_CONFIG_HOME/popcert/trusted_keys (~/.config by default)."""
    if os.environ.get(TRUST_STORE_ENV):
        return Path(os.environ[TRUST_STORE_ENV]).expanduser()
    config_home = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config_home).expanduser() / "popcert" / "trusted_keys"


def trusted_keys(store: Path | None = None) -> list[TrustedKey]:
    """Every key in the store, by name; a file that is not an Ed25519 public key is an error."""
    folder = store or default_trust_store()
    if not folder.is_dir():
        return []
    return [TrustedKey(path.name.removesuffix(KEY_SUFFIX), path, load_public_key(path))
            for path in sorted(folder.glob(f"*{KEY_SUFFIX}"))]


def trust_key(public_key_path: Path, store: Path | None = None, name: str | None = None) -> TrustedKey:
    """Copy an assessor's public key into the store under ``name`` (default: the file's name)."""
    key = load_public_key(public_key_path)
    folder = store or default_trust_store()
    chosen = name or public_key_path.name.removesuffix(KEY_SUFFIX).removesuffix(".pem")
    if not _NAME.match(chosen):
        raise KeyFileError(f"key name {chosen!r} is not a plain name — use e.g. --name hanoi-assessor")
    for existing in trusted_keys(folder):
        if existing.fingerprint == fingerprint(key):
            return existing  # trusting the same key twice changes nothing
    target = folder / f"{chosen}{KEY_SUFFIX}"
    if target.exists():
        raise KeyFileError(f"{target}: another key is already trusted under the name {chosen!r} — "
                           "choose another --name or remove that file first")
    folder.mkdir(parents=True, exist_ok=True)
    target.write_bytes(key.public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo))
    return TrustedKey(chosen, target, key)
