"""One table of content decoders, each bounded per step, and one policy for a hostile body.

Every client goes through ``codings`` (refuses a stack longer than ``MAX_CODINGS``), ``decoded``
(undoes each coding, last applied first, at most ``DECODE_STEP_BYTES`` per step) and ``capped``
(raises ``BodyTooLarge`` past the limit, keeping the first ``limit`` bytes as evidence). So a
2 KB ``gzip, gzip`` answer never expands in memory, and every client refuses the same bodies;
what a refusal looks like (a truncated exchange, a failed request) is the adapter's business.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Iterator

from harness.hostile.limits import DECODE_STEP_BYTES, MAX_BODY_BYTES, MAX_CODINGS

try:  # Brotli >= 1.2 can bound each decoding step (output_buffer_limit); older cannot: not offered
    import brotli

    HAS_BROTLI = hasattr(brotli.Decompressor(), "can_accept_more_data")
except ImportError:  # pragma: no cover - a declared dependency
    HAS_BROTLI = False


class BodyRefused(ValueError):
    """A response body popcert does not read further (its status line and headers still count)."""


class BodyTooLarge(BodyRefused):
    """The body, as sent or once decoded, exceeds the limit; ``kept`` is its first ``limit``
    bytes."""

    def __init__(self, message: str, kept: bytes = b"") -> None:
        super().__init__(message)
        self.kept = kept


class TooManyCodings(BodyRefused):
    pass


class UnsupportedCoding(BodyRefused):
    pass


class CorruptBody(BodyRefused):
    """The bytes are not what the declared coding produces."""


StepDecoder = Callable[[Iterator[bytes]], Iterator[bytes]]


def _zlib(wbits: int) -> StepDecoder:
    def decode(chunks: Iterator[bytes]) -> Iterator[bytes]:
        mode = wbits
        inflater = zlib.decompressobj(mode)
        started = False
        for chunk in chunks:
            pending = chunk
            while True:
                try:
                    out = inflater.decompress(pending, DECODE_STEP_BYTES)
                except zlib.error as failure:
                    # deflate: zlib-wrapped as RFC 9110 says, or raw as some servers send it.
                    if started or mode != 15:
                        raise CorruptBody(f"not a valid deflate/gzip stream ({failure})") from None
                    inflater, mode = zlib.decompressobj(-15), -15
                    continue
                started = True
                pending = inflater.unconsumed_tail
                if out:
                    yield out
                # A full step may leave output buffered inside zlib: ask again until it runs dry.
                if not pending and len(out) < DECODE_STEP_BYTES:
                    break
        yield inflater.flush()
    return decode


def _brotli(chunks: Iterator[bytes]) -> Iterator[bytes]:
    decompressor = brotli.Decompressor()
    try:
        for chunk in chunks:
            out = decompressor.process(chunk, output_buffer_limit=DECODE_STEP_BYTES)
            while out:
                yield out
                out = decompressor.process(b"", output_buffer_limit=DECODE_STEP_BYTES)
    except brotli.error as failure:
        raise CorruptBody(f"not a valid br stream ({failure})") from None


# The content codings popcert decodes, each bounded per step (httpx's SUPPORTED_DECODERS shape).
DECODERS: dict[str, StepDecoder] = {"gzip": _zlib(31), "x-gzip": _zlib(31), "deflate": _zlib(15)}
if HAS_BROTLI:
    DECODERS["br"] = _brotli
ACCEPT_ENCODING = ", ".join(c for c in ("gzip", "deflate", "br") if c in DECODERS)


def codings(content_encoding: str | None) -> tuple[str, ...]:
    """The codings of a Content-Encoding header in the order applied (identity dropped);
    ``TooManyCodings`` past ``MAX_CODINGS``."""
    found = tuple(c.strip().lower() for c in (content_encoding or "").split(",")
                  if c.strip() and c.strip().lower() != "identity")
    if len(found) > MAX_CODINGS:
        raise TooManyCodings(f"Content-Encoding stacks {len(found)} codings ({', '.join(found)}); "
                             f"popcert decodes at most {MAX_CODINGS}")
    return found


def decodable(applied: Iterable[str]) -> bool:
    return all(c in DECODERS for c in applied)


def decoded(chunks: Iterable[bytes], applied: tuple[str, ...]) -> Iterator[bytes]:
    """The body with every coding undone, last applied first; ``UnsupportedCoding`` for a coding
    outside the table (a caller that keeps raw bytes instead checks ``decodable`` first)."""
    unknown = [c for c in applied if c not in DECODERS]
    if unknown:
        raise UnsupportedCoding(f"unsupported Content-Encoding {unknown[0]!r}")
    stream = iter(chunks)
    for coding in reversed(applied):
        stream = DECODERS[coding](stream)
    return stream


def capped(chunks: Iterable[bytes], limit: int = MAX_BODY_BYTES,
           what: str = "once decoded") -> bytes:
    """Every byte of ``chunks`` up to ``limit``; ``BodyTooLarge`` (keeping the first ``limit``
    bytes) as soon as there are more. The iterator is closed either way (socket released)."""
    body = bytearray()
    iterator = iter(chunks)
    try:
        for chunk in iterator:
            body += chunk
            if len(body) > limit:
                raise BodyTooLarge(f"response body over {limit} bytes {what}",
                                   bytes(body[:limit]))
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            close()
    return bytes(body)


def decode_body(body: bytes, content_encoding: str | None, limit: int = MAX_BODY_BYTES) -> bytes:
    """A body read whole, decoded under ``limit`` (the one-shot form of the same policy)."""
    applied = codings(content_encoding)
    if not applied:
        return body
    return capped(decoded((body,), applied), limit)
