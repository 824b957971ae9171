"""The locust processes' body reader: 1 MiB on the wire and once decoded, whatever the coding."""

from __future__ import annotations

import io
import zlib

import pytest

from harness.suites.load.body import (
    BodyTooLarge,
    UnsupportedEncoding,
    decode_bounded,
    read_bounded,
)
from tests.hostile.servers import bomb_body


def test_plain_and_encoded_bodies_decode() -> None:
    body = b'{"dossier_id":"d-1"}'
    gz = zlib.compressobj(6, zlib.DEFLATED, 31)
    gzipped = gz.compress(body) + gz.flush()
    assert decode_bounded(body, None) == body
    assert decode_bounded(gzipped, "gzip") == body
    assert decode_bounded(zlib.compress(body), "deflate") == body


@pytest.mark.parametrize("encoding", ["gzip, gzip", "deflate", "br", "gzip"])
def test_compression_bombs_stop_at_the_limit(encoding: str) -> None:
    bomb = bomb_body(encoding, 64 << 20)  # 64 MiB of zeros in a few KB
    assert len(bomb) < 200_000
    with pytest.raises(BodyTooLarge):
        decode_bounded(bomb, encoding, limit=1 << 20)


def test_endless_body_stops_reading_at_the_limit() -> None:
    class Endless:
        reads = 0

        def read(self, n: int | None = None) -> bytes:
            self.reads += 1
            return b"0," * ((n or 65536) // 2)

    endless = Endless()
    with pytest.raises(BodyTooLarge):
        read_bounded(endless, limit=1 << 20)
    assert endless.reads <= 17
    assert read_bounded(io.BytesIO(b"x" * 1000), limit=1 << 20) == b"x" * 1000


def test_unknown_coding_is_refused() -> None:
    with pytest.raises(UnsupportedEncoding):
        decode_bounded(b"abc", "compress")


class _Parsed:
    """Like geventhttpclient's response once the whole message is parsed: ``read(n)`` hands out
    at most ``n`` bytes of its buffer."""

    message_complete = True

    def __init__(self, body: bytes) -> None:
        self.buffer = bytearray(body)
        self.reads = 0

    def read(self, n: int | None = None) -> bytes:
        self.reads += 1
        size = len(self.buffer) if n is None else n
        out = bytes(self.buffer[:size])
        del self.buffer[:size]
        return out


def test_parsed_message_is_read_whole_and_a_small_one_in_one_read() -> None:
    small = _Parsed(b"x" * 1000)
    assert read_bounded(small) == b"x" * 1000
    assert small.reads == 1
    # Complete, but more than one chunk in the buffer: every byte, not the first chunk only.
    assert read_bounded(_Parsed(b"y" * 200_000), chunk=65536) == b"y" * 200_000
    with pytest.raises(BodyTooLarge):
        read_bounded(_Parsed(b"z" * ((1 << 20) + 1)), limit=1 << 20)
