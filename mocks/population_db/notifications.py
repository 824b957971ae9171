"""Change notifications: subscriptions, signed webhook deliveries, retries with backoff.

Signature (docs/interfaces.md §3): ``X-NPDB-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>``.
Callback URLs must be loopback: the mock never sends anything off this machine.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

EVENT_TYPES = ("birth", "death", "residence_change")
SIGNATURE_HEADER = "X-NPDB-Signature"


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def verify_signature(secret: str, body: bytes, header: str, max_age_s: int = 300) -> bool:
    """Receiver side, used by tests and by anyone embedding a reference receiver."""
    try:
        parts = dict(p.split("=", 1) for p in header.split(","))
        t = int(parts["t"])
    except (ValueError, KeyError):
        return False
    if abs(time.time() - t) > max_age_s:
        return False
    return hmac.compare_digest(sign(secret, body, t), header)


# Same pattern as SubscriptionRequest.callback_url in specs/npdb/v1/openapi.yaml.
CALLBACK_URL = re.compile(
    r"^https?://(127\.0\.0\.1|localhost|\[::1\])(:[0-9]{1,5})?(/[A-Za-z0-9._~/-]*)?$")


def is_loopback_url(url: str) -> bool:
    return CALLBACK_URL.fullmatch(url) is not None


@dataclass
class Subscription:
    subscription_id: str
    client_id: str
    callback_url: str
    events: tuple[str, ...]
    secret: str


@dataclass
class Delivery:
    delivery_id: str
    subscription_id: str
    client_id: str
    event_id: str
    type: str
    callback_url: str
    body: str
    signature: str = ""
    status: str = "pending"  # pending | delivered | failed
    attempts: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"delivery_id": self.delivery_id, "subscription_id": self.subscription_id,
                "client_id": self.client_id, "event_id": self.event_id, "type": self.type,
                "callback_url": self.callback_url, "body": self.body,
                "signature_header": self.signature, "status": self.status,
                "attempts": list(self.attempts)}


class Notifier:
    """Holds subscriptions and pushes events; ``on_attempt`` lets the audit log see each try."""

    def __init__(self, ca_path: str | None = None, max_attempts: int = 5,
                 backoff_s: float = 0.5, timeout_s: float = 5.0, on_attempt: Any = None) -> None:
        self.subscriptions: dict[str, Subscription] = {}
        self.deliveries: list[Delivery] = []
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self.timeout_s = timeout_s
        self.ca_path = ca_path
        self.on_attempt = on_attempt
        self._tasks: set[asyncio.Task[None]] = set()

    def subscribe(self, client_id: str, callback_url: str, events: list[str]) -> Subscription:
        sub = Subscription(f"sub_{uuid.uuid4().hex[:16]}", client_id, callback_url,
                           tuple(events), secrets.token_hex(32))
        self.subscriptions[sub.subscription_id] = sub
        return sub

    async def emit(self, event_type: str, personal_id: str, data: dict[str, Any],
                   wait_first_attempt: bool = True) -> list[Delivery]:
        event_id = f"evt_{uuid.uuid4().hex}"
        occurred_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        payload = {"event_id": event_id, "type": event_type, "occurred_at": occurred_at,
                   "personal_id": personal_id, "data": data}
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        created = []
        for sub in list(self.subscriptions.values()):
            if event_type not in sub.events:
                continue
            delivery = Delivery(f"dlv_{uuid.uuid4().hex[:16]}", sub.subscription_id,
                                sub.client_id, event_id, event_type, sub.callback_url, body)
            self.deliveries.append(delivery)
            created.append(delivery)
        firsts = []
        for delivery in created:
            first: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            task = asyncio.create_task(self._deliver(delivery, first))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            firsts.append(first)
        if wait_first_attempt and firsts:
            await asyncio.wait(firsts, timeout=self.timeout_s + 1)
        return created

    async def _deliver(self, delivery: Delivery, first: asyncio.Future[None]) -> None:
        sub = self.subscriptions[delivery.subscription_id]
        verify: Any = self.ca_path or True
        async with httpx.AsyncClient(verify=verify, timeout=self.timeout_s,
                                     follow_redirects=False) as client:
            for attempt in range(1, self.max_attempts + 1):
                # A fresh signature per attempt: a redelivery is not a byte-identical replay.
                delivery.signature = sign(sub.secret, delivery.body.encode())
                started = time.monotonic()
                status: int | None = None
                error = None
                try:
                    resp = await client.post(delivery.callback_url, content=delivery.body.encode(),
                                             headers={"Content-Type": "application/json",
                                                      SIGNATURE_HEADER: delivery.signature})
                    status = resp.status_code
                except httpx.HTTPError as exc:
                    error = f"{type(exc).__name__}: {exc}"
                ok = status is not None and 200 <= status < 300
                delivery.attempts.append({"attempt": attempt, "at": time.time(), "status": status,
                                          "error": error,
                                          "latency_ms": (time.monotonic() - started) * 1000})
                delivery.status = "delivered" if ok else (
                    "failed" if attempt == self.max_attempts else "retrying")
                if self.on_attempt is not None:
                    self.on_attempt(delivery, status, (time.monotonic() - started) * 1000)
                if not first.done():
                    first.set_result(None)
                if ok:
                    return
                if attempt < self.max_attempts:
                    await asyncio.sleep(self.backoff_s * 2 ** (attempt - 1))

    def clear(self) -> None:
        self.deliveries.clear()
