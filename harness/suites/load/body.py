"""Bounded reading and decoding of a response body inside the locust processes.

locust's FastResponse reads a whole body and decompresses it in one call: a 2 KB
``Content-Encoding: gzip, gzip`` answer becomes gigabytes. The locustfile streams instead, reads
at most ``limit`` bytes off the wire and decodes each coding with an output bound, so no body
ever costs more than a few times ``limit`` of memory. Standard library (+ brotli) only.
"""

from __future__ import annotations

import zlib
from typing import Any, Protocol

BODY_LIMIT = 1 << 20  # 1 MiB, wire and decoded alike
_WBITS = {"gzip": 31, "x-gzip": 31, "deflate": 15}


class BodyTooLarge(ValueError):
    """The body (as sent, or once decoded) exceeds the limit."""


class UnsupportedEncoding(ValueError):
    pass


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
            raise BodyTooLarge(f"response body over {limit} bytes")
        if not parts and len(data) < chunk and getattr(raw, "message_complete", False):
            # geventhttpclient's response: the whole message is parsed and a short read means
            # nothing is left in its buffer (the common small body, without a second read).
            return bytes(data)
        parts.append(data)


def _decode_one(coding: str, data: bytes, limit: int) -> bytes:
    if coding in _WBITS:
        decoder: Any = zlib.decompressobj(_WBITS[coding])
        try:
            out = decoder.decompress(data, limit + 1)
        except zlib.error:
            if coding != "deflate":
                raise
            decoder = zlib.decompressobj(-15)  # raw deflate, as some servers send it
            out = decoder.decompress(data, limit + 1)
        if len(out) > limit or decoder.unconsumed_tail:
            raise BodyTooLarge(f"{coding}-decoded body over {limit} bytes")
        return bytes(out)
    if coding == "br":
        import brotli

        decompressor = brotli.Decompressor()
        out = decompressor.process(data, output_buffer_limit=limit + 1)
        if len(out) > limit or not decompressor.is_finished():
            raise BodyTooLarge(f"br-decoded body over {limit} bytes")
        return bytes(out)
    raise UnsupportedEncoding(f"unsupported Content-Encoding {coding!r}")


def decode_bounded(body: bytes, content_encoding: str | None, limit: int = BODY_LIMIT) -> bytes:
    """Undo every listed coding (last applied first), each output bounded by ``limit``."""
    codings = [c.strip().lower() for c in (content_encoding or "").split(",") if c.strip()]
    for coding in reversed(codings):
        if coding != "identity":
            body = _decode_one(coding, body, limit)
    return body
