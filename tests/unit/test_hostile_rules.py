"""harness/hostile: the one decoder table and its policy, and the handshake watchdog."""

from __future__ import annotations

import socket
import time
import zlib

import pytest

from harness.hostile import decode
from harness.hostile.deadline import (
    CURRENT,
    HandshakeTimeout,
    Watchdog,
    handshake_deadline,
    remaining,
)
from harness.hostile.limits import DECODE_STEP_BYTES, MAX_BODY_BYTES
from tests.hostile.servers import bomb_body


@pytest.mark.parametrize("encoding", ["gzip, gzip", "deflate", "br", "gzip, br"])
def test_a_bomb_is_refused_keeping_the_first_limit_bytes(encoding: str) -> None:
    bomb = bomb_body(encoding, 64 << 20)
    with pytest.raises(decode.BodyTooLarge) as refused:
        decode.capped(decode.decoded(iter([bomb]), decode.codings(encoding)))
    assert refused.value.kept == bytes(MAX_BODY_BYTES)  # what a truncating adapter keeps


def test_every_step_is_bounded() -> None:
    steps = decode.decoded(iter([bomb_body("gzip", 8 << 20)]), ("gzip",))
    assert max(len(step) for step in steps) <= DECODE_STEP_BYTES


def test_more_than_three_codings_are_refused_before_any_byte() -> None:
    assert decode.codings("gzip, identity, br") == ("gzip", "br")
    with pytest.raises(decode.TooManyCodings, match="stacks 4 codings"):
        decode.codings("gzip, gzip, gzip, gzip")


def test_corrupt_and_unknown_codings_are_refused_by_name() -> None:
    with pytest.raises(decode.CorruptBody):
        decode.decode_body(b"not gzip at all", "gzip")
    with pytest.raises(decode.UnsupportedCoding, match="'compress'"):
        decode.decode_body(b"abc", "compress")
    assert decode.decodable(("gzip", "deflate")) and not decode.decodable(("zstd",))


def test_deflate_is_decoded_in_both_forms() -> None:
    raw = zlib.compressobj(9, zlib.DEFLATED, -15)
    assert decode.decode_body(raw.compress(b"{}") + raw.flush(), "deflate") == b"{}"
    assert decode.decode_body(zlib.compress(b"{}"), "deflate") == b"{}"


def test_remaining_is_cut_to_the_deadline_and_refuses_after_it() -> None:
    assert remaining(5.0) == 5.0  # no deadline in force
    assert remaining(5.0, at=time.monotonic() + 1.0) <= 1.0  # type: ignore[operator]
    with pytest.raises(TimeoutError, match="total deadline"):
        remaining(5.0, at=time.monotonic() - 0.1)
    CURRENT.at = time.monotonic() - 0.1
    try:
        with pytest.raises(TimeoutError):
            remaining(None)
    finally:
        CURRENT.at = None


def test_the_watchdog_shuts_a_held_socket_down_at_its_deadline() -> None:
    # A peer that never answers: the blocking read stands in for a handshake held in C.
    held, peer = socket.socketpair()
    with held, peer, pytest.raises(HandshakeTimeout), \
            handshake_deadline(held, time.monotonic() + 0.3, Watchdog(tick_s=0.01)):
        assert held.recv(1) == b""  # returns only because the socket was shut down


def test_a_handshake_done_in_time_is_left_alone() -> None:
    held, peer = socket.socketpair()
    watchdog = Watchdog(tick_s=0.01)
    with held, peer:
        with handshake_deadline(held, time.monotonic() + 5, watchdog):
            peer.sendall(b"x")
            assert held.recv(1) == b"x"
        peer.sendall(b"y")
        assert held.recv(1) == b"y"  # still open: nothing fired
