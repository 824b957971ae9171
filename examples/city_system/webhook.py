"""Verification of NPDB change notifications (HMAC-SHA256 over "<t>.<raw body>", 300 s window).

A byte-identical replay is refused (409); a redelivery of a known event_id with a fresh signature is
acknowledged as a duplicate by the caller (``NotificationStore``), never applied twice.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable

from popcert_city.defects import active

SIGNATURE_HEADER = "X-NPDB-Signature"
TOLERANCE_S = 300
_REPLAY_MEMORY = 10_000  # signatures older than the tolerance are refused anyway; this bounds memory


class WebhookError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _bad_signature(message: str) -> WebhookError:
    """A missing, malformed or wrong signature: 401 (the spec), 403 under its switch."""
    return WebhookError(403 if active("auth.notification_bad_signature_403") else 401, message)


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The header value the NPDB sends (used by tests and by the harness)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def _parse(header: str) -> tuple[int, list[str]]:
    timestamp: int | None = None
    macs: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit() and len(value) <= 12:
            timestamp = int(value)
        elif key == "v1":
            macs.append(value)
    if timestamp is None or not macs:
        raise _bad_signature("malformed signature")
    return timestamp, macs


class NotificationVerifier:
    def __init__(self, secrets: Callable[[], Iterable[str]], clock: Callable[[], float] = time.time) -> None:
        self._secrets = secrets
        self._clock = clock
        self._seen: OrderedDict[str, None] = OrderedDict()

    def verify(self, body: bytes, header: str | None) -> None:
        """Raise WebhookError unless the notification is authentic, fresh and not a replay."""
        if not active("auth.notification_unsigned_accepted"):
            self._check_signature(body, header)
        elif header:  # the MAC is not checked, but a dated header is still held to the window
            try:
                timestamp, _ = _parse(header)
            except WebhookError:
                timestamp = None
            if timestamp is not None:
                self._check_window(timestamp)
        if active("auth.notification_replay_accepted"):
            return
        fingerprint = hashlib.sha256((header or "").encode() + b"\n" + body).hexdigest()
        if fingerprint in self._seen:
            raise WebhookError(409, "replayed notification")
        self._seen[fingerprint] = None
        if len(self._seen) > _REPLAY_MEMORY:
            self._seen.popitem(last=False)

    def _check_window(self, timestamp: int) -> None:
        if abs(self._clock() - timestamp) > TOLERANCE_S and \
                not active("auth.notification_stale_accepted"):
            raise WebhookError(401, "stale signature")

    def _check_signature(self, body: bytes, header: str | None) -> None:
        if not header:
            raise _bad_signature("signature required")
        timestamp, macs = _parse(header)
        self._check_window(timestamp)
        signed = f"{timestamp}.".encode() + body
        for secret in self._secrets():
            expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
            if any(hmac.compare_digest(expected, mac) for mac in macs):
                return
        raise _bad_signature("bad signature")
