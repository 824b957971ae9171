"""Assessor keys and detached Ed25519 signatures: key files, fingerprints, raw signature bytes.

Keys are PEM: PKCS#8 private key (mode 0600) and SubjectPublicKeyInfo public key. A signature is
the raw 64-byte Ed25519 signature over exact bytes (report.json, certificate.json), so plain
OpenSSL checks it (``openssl pkeyutl -verify -rawin``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from harness.errors import PopcertError

SIGNATURE_SUFFIX = ".sig"
SIGNATURE_LENGTH = 64


class KeyFileError(PopcertError):
    """A key file that cannot be used (missing, not PEM, not Ed25519)."""


@dataclass(frozen=True)
class KeyPair:
    private_key: Path
    public_key: Path
    fingerprint: str


def fingerprint(public_key: Ed25519PublicKey) -> str:
    """SHA-256 of the raw public key, as an assessor reads it out over the phone."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "SHA256:" + hashlib.sha256(raw).hexdigest()


def keys_new(out_dir: Path, name: str) -> KeyPair:
    """Create ``name.key.pem`` (PKCS#8, 0600) and ``name.pub.pem``; refuses to overwrite a key."""
    if not name or "/" in name or name.startswith("."):
        raise KeyFileError(f"key name {name!r} is not a plain file name — use e.g. 'assessor'")
    out_dir.mkdir(parents=True, exist_ok=True)
    private_path, public_path = out_dir / f"{name}.key.pem", out_dir / f"{name}.pub.pem"
    if private_path.exists():
        raise KeyFileError(f"{private_path}: already exists — choose another name or remove it first")
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    # Created with 0600 from the start: never a moment where the key is world-readable.
    descriptor = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem)
    public_path.write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return KeyPair(private_path, public_path, fingerprint(key.public_key()))


def load_private_key(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except OSError as missing:
        raise KeyFileError(f"{path}: cannot read the private key ({missing.strerror})") from None
    except (ValueError, TypeError):
        raise KeyFileError(f"{path}: not an unencrypted PEM private key — create one with "
                        "`popcert keys new`") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"{path}: not an Ed25519 key — create one with `popcert keys new`")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except OSError as missing:
        raise KeyFileError(f"{path}: cannot read the public key ({missing.strerror})") from None
    except ValueError:
        raise KeyFileError(f"{path}: not a PEM public key (expected name.pub.pem)") from None
    if not isinstance(key, Ed25519PublicKey):
        raise KeyFileError(f"{path}: not an Ed25519 public key")
    return key


def sign_bytes(payload: bytes, key: Ed25519PrivateKey) -> bytes:
    return key.sign(payload)


def read_signature(path: Path) -> bytes:
    """Raw 64 bytes, or the same in base64 text (for people who paste signatures into e-mail)."""
    data = path.read_bytes()
    if len(data) == SIGNATURE_LENGTH:
        return data
    try:
        decoded = base64.b64decode(data.strip(), validate=True)
    except (binascii.Error, ValueError):
        decoded = b""
    if len(decoded) == SIGNATURE_LENGTH:
        return decoded
    raise PopcertError(f"{path}: not an Ed25519 signature (expected 64 raw bytes or base64 of them)")
