"""Canonical JSON bytes: what report.json and certificate.json are on disk, and what is signed.

A document's file IS ``canonical_json(document)``, so a detached signature is checked over the file
itself, by popcert or by plain OpenSSL, without re-serialising.
"""

from __future__ import annotations

import json
from typing import Any


def canonical_json(report: dict[str, Any]) -> bytes:
    """Sorted keys, no insignificant whitespace, UTF-8 (not \\u escapes), no trailing newline.

    NaN/Infinity are refused: they are not JSON and would make the bytes ambiguous across tools.
    """
    return json.dumps(report, sort_keys=True, ensure_ascii=False, separators=(",", ":"),
                      allow_nan=False).encode("utf-8")


def is_canonical(raw: bytes) -> bool:
    try:
        return canonical_json(json.loads(raw.decode("utf-8"))) == raw
    except (UnicodeDecodeError, ValueError, RecursionError):
        return False
