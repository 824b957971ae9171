"""Loaded INSIDE the schemathesis child (``SCHEMATHESIS_HOOKS``), never in popcert itself.

The requests/urllib3 adapter of the hostile-SUT rules (harness/hostile/, docs/security-model.md):
no redirect is ever followed; a body is decoded by popcert's own bounded decoder table and cut at
``POPCERT_CONF_MAX_BODY`` decoded bytes; every request, the schemathesis probes included, ends
within ``POPCERT_CONF_DEADLINE_S`` in total, body and trailer included, even against a server
that trickles one byte every few seconds (each socket read gets only what is left of the
deadline) or holds the TLS handshake inside OpenSSL (a watchdog shuts the socket down).
Importing this module anywhere else would patch that process: don't.
"""

from __future__ import annotations

import os
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from typing import Any

import requests
import requests.models
import requests.utils
from urllib3.exceptions import DecodeError, ProtocolError, ReadTimeoutError, SSLError

from harness.hostile import decode, limits
from harness.hostile.deadline import CURRENT, handshake_deadline, remaining

MAX_BODY_ENV = "POPCERT_CONF_MAX_BODY"
DEADLINE_ENV = "POPCERT_CONF_DEADLINE_S"
MAX_BODY = int(os.environ.get(MAX_BODY_ENV, "1048576"))
DEADLINE_S = float(os.environ.get(DEADLINE_ENV, "30"))


def _bounded_recv(original: Callable[..., Any]) -> Callable[..., Any]:
    def recv(self: socket.socket, *args: Any, **kwargs: Any) -> Any:
        if CURRENT.at is None:
            return original(self, *args, **kwargs)
        previous = self.gettimeout()
        self.settimeout(remaining(previous, lambda message: TimeoutError(f"popcert: {message}")))
        try:
            return original(self, *args, **kwargs)
        finally:
            self.settimeout(previous)
    return recv


for _cls in (socket.socket, ssl.SSLSocket):
    for _name in ("recv", "recv_into"):
        setattr(_cls, _name, _bounded_recv(getattr(_cls, _name)))

_original_handshake = ssl.SSLSocket.do_handshake


def _do_handshake(self: ssl.SSLSocket, *args: Any, **kwargs: Any) -> None:
    # A HelloRequest flood keeps OpenSSL inside this one call: no socket timeout fires there.
    # Bounded as CPython means to: by the socket timeout, and never past the request deadline.
    timeout = self.gettimeout()
    at = time.monotonic() + (timeout if timeout is not None else DEADLINE_S)
    if CURRENT.at is not None:
        at = min(at, CURRENT.at)
    with handshake_deadline(self, at):
        _original_handshake(self, *args, **kwargs)


ssl.SSLSocket.do_handshake = _do_handshake  # type: ignore[method-assign]

# Redirects: never followed, whatever a call site asks (the 3xx itself is the response judged).
def _no_redirect_target(self: requests.sessions.SessionRedirectMixin, resp: requests.Response) -> str | None:
    return None


requests.Session.get_redirect_target = _no_redirect_target  # type: ignore[method-assign]

# Nothing from the environment: no proxy (traffic goes to the declared host only), no ~/.netrc
# credentials sent to the SUT, no CA bundle but the run's. (requests otherwise re-reads the whole
# environment on every request.)
_original_init = requests.Session.__init__


def _init(self: requests.Session) -> None:
    _original_init(self)
    self.trust_env = False


requests.Session.__init__ = _init  # type: ignore[method-assign]

# Session.send, not .request: schemathesis' probes send prepared requests directly.
_original_send = requests.Session.send
_original_iter_content = requests.models.Response.iter_content


# Told of every request sent, for the run's progress (child_progress, when loaded at the end).
_on_request: Callable[[], None] | None = None


def _send(self: requests.Session, *args: Any, **kwargs: Any) -> requests.Response:
    if _on_request is not None:
        _on_request()
    deadline = time.monotonic() + DEADLINE_S
    CURRENT.at = deadline  # a non-streamed send reads the body (and trailer) in here too
    try:
        response = _original_send(self, *args, **kwargs)
    finally:
        CURRENT.at = None
    response._popcert_deadline = deadline  # type: ignore[attr-defined]
    return response


def _iter_content(self: requests.Response, chunk_size: int | None = 1,
                  decode_unicode: bool = False) -> Iterator[Any]:
    # _content_consumed: requests' own flag for a body already read (private, not in its stubs)
    if self._content_consumed or not hasattr(self.raw, "stream"):  # type: ignore[attr-defined]
        return _original_iter_content(self, chunk_size, decode_unicode)
    # Inside send (not streamed) the attribute is not set yet: the deadline in force holds.
    deadline = getattr(self, "_popcert_deadline", None) or CURRENT.at
    chunks: Iterator[Any] = _read_decoded(self, chunk_size, deadline)
    if decode_unicode:
        # requests' stubs leave this helper unannotated; it yields str from the byte chunks
        chunks = requests.utils.stream_decode_response_unicode(chunks, self)  # type: ignore[no-untyped-call]
    return chunks


def _read_decoded(response: requests.Response, chunk_size: int | None,
                  deadline: float | None) -> Iterator[bytes]:
    """The raw bytes through popcert's decoder table, each read under the deadline; errors
    mapped as requests maps urllib3's."""
    try:
        applied = decode.codings(response.headers.get("content-encoding"))
    except decode.BodyRefused as refused:
        _release(response)
        raise requests.exceptions.ContentDecodingError(f"popcert: {refused}") from None
    # Never an unbounded read: a body read whole (chunk_size None) could be endless.
    raw = _under_deadline(response.raw.stream(chunk_size or limits.DECODE_STEP_BYTES,
                                              decode_content=False), deadline)
    # An encoding popcert did not offer stays raw, as urllib3 leaves it.
    chunks = decode.decoded(raw, applied) if decode.decodable(applied) else raw
    size = 0
    try:
        for chunk in chunks:
            size += len(chunk)
            if size > MAX_BODY:
                _release(response)
                raise requests.exceptions.ContentDecodingError(
                    f"popcert: response body over {MAX_BODY} bytes after decoding; not read "
                    "further (a body this size, or a compression bomb, is refused)")
            yield chunk
    except decode.BodyRefused as refused:
        _release(response)
        raise requests.exceptions.ContentDecodingError(f"popcert: {refused}") from None
    except ProtocolError as failure:
        raise requests.exceptions.ChunkedEncodingError(failure) from None
    except DecodeError as failure:
        raise requests.exceptions.ContentDecodingError(failure) from None
    except ReadTimeoutError as failure:
        raise requests.exceptions.ConnectionError(failure) from None
    except SSLError as failure:
        raise requests.exceptions.SSLError(failure) from None
    finally:
        # A refused body's decoders go now, not with the traceback schemathesis keeps (a br
        # decoder holds its window, ~4 MiB: 100 refused br bombs pinned 414 MiB).
        chunks.close()  # type: ignore[attr-defined]
    response._content_consumed = True  # type: ignore[attr-defined]  # see _iter_content


def _under_deadline(reads: Iterator[bytes], deadline: float | None) -> Iterator[bytes]:
    while True:
        previous, CURRENT.at = CURRENT.at, deadline  # only around each read: an abandoned
        try:                                          # iterator leaks nothing
            chunk = next(reads)
        except StopIteration:
            return
        finally:
            CURRENT.at = previous
        yield chunk


def _release(response: requests.Response) -> None:
    """Drop what a refused response holds (schemathesis keeps each error with its traceback,
    which pins the response): its connection and any decoder state."""
    raw = response.raw
    if raw is not None and hasattr(raw, "_decoder"):
        raw._decoder = None
    response.close()


requests.Session.send = _send  # type: ignore[method-assign]
requests.models.Response.iter_content = _iter_content  # type: ignore[method-assign]

# The run's progress for the person waiting (child_progress: requests, failures, operation).
if os.environ.get("POPCERT_CONF_PROGRESS"):  # progress.PROGRESS_ENV
    from harness.suites.conformance import child_progress  # registers its event handler

    _on_request = child_progress.request_sent
