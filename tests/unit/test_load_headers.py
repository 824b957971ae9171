"""The header and trailer bound of the locust processes (harness/suites/load/headers.py)."""

from __future__ import annotations

import pytest
from geventhttpclient.response import HTTPResponse

from harness.hostile.limits import MAX_HEADER_BYTES, MAX_HEADER_FIELDS
from harness.suites.load.headers import HeadersTooLarge, bound_response_headers

bound_response_headers()

CHUNKED_HEAD = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b"Transfer-Encoding: chunked\r\nTrailer: X-Pad\r\n\r\n2\r\n{}\r\n0\r\n")


def test_an_endless_trailer_is_refused_before_it_grows() -> None:
    response = HTTPResponse()
    response.feed(CHUNKED_HEAD)
    with pytest.raises(HeadersTooLarge, match="over 100 fields"):
        for _ in range(64):
            response.feed(b"X-Pad: 0\r\n" * 64)
    assert len(list(response.items())) <= MAX_HEADER_FIELDS


def test_one_huge_field_value_is_refused() -> None:
    response = HTTPResponse()
    response.feed(b"HTTP/1.1 200 OK\r\nX-Big: ")
    with pytest.raises(HeadersTooLarge):
        for _ in range(MAX_HEADER_BYTES // 4096 + 2):
            response.feed(b"a" * 4096)


def test_a_response_at_the_limit_is_read_whole() -> None:
    fields = b"".join(b"X-%d: v\r\n" % i for i in range(MAX_HEADER_FIELDS - 1))
    response = HTTPResponse()
    response.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n" + fields + b"\r\n{}")
    assert response.message_complete
    assert len(list(response.items())) == MAX_HEADER_FIELDS


def test_a_field_name_in_pieces_counts_once() -> None:
    response = HTTPResponse()
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n" + b"".join(
        b"X-%d: v\r\n" % i for i in range(MAX_HEADER_FIELDS - 1)) + b"\r\n{}"
    for byte in range(len(head)):  # one byte per feed: names and values arrive in pieces
        response.feed(head[byte:byte + 1])
    assert response.message_complete


def test_each_message_counts_afresh() -> None:
    # An interim 1xx's fields do not count against the final response's.
    fields = b"".join(b"X-%d: v\r\n" % i for i in range(MAX_HEADER_FIELDS - 1))
    response = HTTPResponse()
    response.feed(b"HTTP/1.1 100 Continue\r\n" + fields + b"\r\n")
    response.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n" + fields + b"\r\n{}")
    assert response.message_complete
