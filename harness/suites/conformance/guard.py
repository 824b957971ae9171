"""Loaded INSIDE the schemathesis child (``SCHEMATHESIS_HOOKS``), never in popcert itself.

It gives the fuzzer's HTTP client (requests/urllib3) the rules SafeClient has (docs/security-model.md):
no redirect is ever followed, a response body is cut at ``POPCERT_CONF_MAX_BODY`` decoded bytes
(urllib3 >= 2.6 decodes each read step by step, so a ``gzip, gzip`` bomb cannot expand first),
and every request, body included, ends within ``POPCERT_CONF_DEADLINE_S`` in total, even
against a server that trickles one byte every few seconds (each socket read gets only what is
left of the deadline). Importing this module anywhere else would patch that process: don't.
"""

from __future__ import annotations

import os
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import requests
import requests.models

MAX_BODY_ENV = "POPCERT_CONF_MAX_BODY"
DEADLINE_ENV = "POPCERT_CONF_DEADLINE_S"
MAX_BODY = int(os.environ.get(MAX_BODY_ENV, "1048576"))
DEADLINE_S = float(os.environ.get(DEADLINE_ENV, "30"))


class _Deadline(threading.local):
    at: float | None = None


_DEADLINE = _Deadline()


def _bounded_recv(original: Callable[..., Any]) -> Callable[..., Any]:
    def recv(self: socket.socket, *args: Any, **kwargs: Any) -> Any:
        deadline = _DEADLINE.at
        if deadline is None:
            return original(self, *args, **kwargs)
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("popcert: the request exceeded its total deadline")
        previous = self.gettimeout()
        self.settimeout(left if previous is None else min(previous, left))
        try:
            return original(self, *args, **kwargs)
        finally:
            self.settimeout(previous)
    return recv


for _cls in (socket.socket, ssl.SSLSocket):
    for _name in ("recv", "recv_into"):
        setattr(_cls, _name, _bounded_recv(getattr(_cls, _name)))


# Redirects: never followed, whatever a call site asks (the 3xx itself is the response judged).
requests.Session.get_redirect_target = lambda self, response: None  # type: ignore[method-assign]

# Session.send, not .request: schemathesis' probes send prepared requests directly.
_original_send = requests.Session.send
_original_iter_content = requests.models.Response.iter_content


def _send(self: requests.Session, *args: Any, **kwargs: Any) -> requests.Response:
    deadline = time.monotonic() + DEADLINE_S
    _DEADLINE.at = deadline
    try:
        response = _original_send(self, *args, **kwargs)
    finally:
        _DEADLINE.at = None
    response._popcert_deadline = deadline  # type: ignore[attr-defined]
    return response


def _iter_content(self: requests.Response, *args: Any, **kwargs: Any) -> Iterator[Any]:
    deadline = getattr(self, "_popcert_deadline", None)
    chunks = _original_iter_content(self, *args, **kwargs)
    size = 0
    while True:
        _DEADLINE.at = deadline  # set only around each read: an abandoned iterator leaks nothing
        try:
            chunk = next(chunks)
        except StopIteration:
            return
        finally:
            _DEADLINE.at = None
        size += len(chunk)
        if size > MAX_BODY:
            _release(self)
            raise requests.exceptions.ContentDecodingError(
                f"popcert: response body over {MAX_BODY} bytes after decoding; not read "
                "further (a body this size, or a compression bomb, is refused)")
        yield chunk


def _release(response: requests.Response) -> None:
    """Drop what a refused response holds: schemathesis keeps each error with its traceback,
    which pins the response, and urllib3's chained decoder holds the not-yet-decoded input of a
    stacked coding (about as much as was read): a thousand refused bombs would pin a GiB."""
    raw = response.raw
    if raw is not None and hasattr(raw, "_decoder"):
        raw._decoder = None
    response.close()


requests.Session.send = _send  # type: ignore[method-assign]
requests.models.Response.iter_content = _iter_content  # type: ignore[method-assign]
