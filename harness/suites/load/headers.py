"""A bound on the header and trailer fields of one response inside the locust processes.

geventhttpclient keeps every field its parser reports, trailers included, and never stops: a SUT
that ends a chunked body and then streams trailer fields forever grew a locust process past
1.4 GiB before the request deadline ended the read (bench/hostile.py, endless-trailer). The
parser's callbacks now refuse a message past ``MAX_HEADER_FIELDS`` fields or ``MAX_HEADER_BYTES``
of names and values, as http.client refuses for the other clients (harness/hostile/limits.py);
the error ends that request as a failed request with the reason, never the worker.
"""

from __future__ import annotations

from typing import Any

from harness.hostile.limits import MAX_HEADER_BYTES, MAX_HEADER_FIELDS

__all__ = ["HeadersTooLarge", "bound_response_headers"]


class HeadersTooLarge(Exception):
    """The response sent more header or trailer fields than any real server needs."""


def bound_response_headers() -> None:
    """Patch geventhttpclient's response parser once (idempotent)."""
    from geventhttpclient.response import HEADER_STATE_FIELD, HTTPResponse

    parser: Any = HTTPResponse
    if getattr(parser._on_header_field, "_popcert_bounded", False):
        return
    on_field = parser._on_header_field
    on_value = parser._on_header_value
    on_begin = parser._on_message_begin

    def _count(self: Any, text: str, new_field: bool) -> None:
        fields, size = getattr(self, "_popcert_header_count", (0, 0))
        fields += new_field
        size += len(text)
        if fields > MAX_HEADER_FIELDS or size > MAX_HEADER_BYTES:
            raise HeadersTooLarge(f"response header and trailer fields over {MAX_HEADER_FIELDS} "
                                  f"fields or {MAX_HEADER_BYTES} bytes")
        self._popcert_header_count = (fields, size)

    def field(self: Any, text: str) -> None:
        # A field name may arrive in pieces: only the first piece after a value starts a field.
        _count(self, text, self._header_state != HEADER_STATE_FIELD)
        on_field(self, text)

    def value(self: Any, text: str) -> None:
        _count(self, text, False)
        on_value(self, text)

    def begin(self: Any) -> None:
        self._popcert_header_count = (0, 0)  # each message (an interim 1xx too) counts afresh
        on_begin(self)

    field._popcert_bounded = True  # type: ignore[attr-defined]
    parser._on_header_field = field
    parser._on_header_value = value
    parser._on_message_begin = begin

