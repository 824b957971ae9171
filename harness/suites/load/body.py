"""Bounded reading and decoding of a response body inside the locust processes.

locust's FastResponse reads a whole body and decompresses it in one call: a 2 KB
``Content-Encoding: gzip, gzip`` answer becomes gigabytes. The locustfile streams instead, reads
at most ``limit`` bytes off the wire and decodes through popcert's bounded decoder table
(harness/hostile/decode.py, the policy every client shares), so no body ever costs more than a
few times ``limit`` of memory. Standard library (+ brotli) only.
"""

from __future__ import annotations

from typing import Protocol

from harness.hostile import decode
from harness.hostile.decode import BodyRefused, BodyTooLarge, TooManyCodings
from harness.hostile.decode import UnsupportedCoding as UnsupportedEncoding
from harness.hostile.limits import MAX_BODY_BYTES

BODY_LIMIT = MAX_BODY_BYTES  # 1 MiB, wire and decoded alike
__all__ = ["BODY_LIMIT", "BodyRefused", "BodyTooLarge", "TooManyCodings", "UnsupportedEncoding",
           "decode_bounded", "read_bounded"]


class RawBody(Protocol):
    def read(self, n: int | None = None) -> bytes: ...


def read_bounded(raw: RawBody, limit: int = BODY_LIMIT, chunk: int = 65536) -> bytes:
    """At most ``limit`` bytes of the body as sent; raises ``BodyTooLarge`` beyond it."""
    parts: list[bytes] = []
    size = 0
    while True:
        data = raw.read(chunk)
        if not data:
            return b"".join(parts)
        size += len(data)
        if size > limit:
            raise BodyTooLarge(f"response body over {limit} bytes as sent")
        if not parts and len(data) < chunk and getattr(raw, "message_complete", False):
            # geventhttpclient's response: the whole message is parsed and a short read means
            # nothing is left in its buffer (the common small body, without a second read).
            return bytes(data)
        parts.append(data)


def decode_bounded(body: bytes, content_encoding: str | None, limit: int = BODY_LIMIT) -> bytes:
    """Undo every listed coding (last applied first), the output bounded by ``limit``.

    The locust user asks for ``identity``: a coding outside popcert's table is refused
    (``UnsupportedEncoding``), as are a stack of more than three and a corrupt stream."""
    if not content_encoding:
        return body
    return decode.decode_body(body, content_encoding, limit)
