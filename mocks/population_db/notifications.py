"""Change notifications: subscriptions, signed webhook deliveries, retries with backoff.

Signature (docs/interfaces.md §3): ``X-NPDB-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>``.
Callback URLs must be loopback: the mock never sends anything off this machine.
Subscriptions are kept in the state dir (``subscriptions.json``), so a restarted mock still
delivers; per client and callback URL only the newest subscription covering an event is used (a
restarted subscriber's old secret is never tried first). Deliveries trust the national CA plus
each CA the run names (``--trust-ca``, ``POST /admin/trust``): a SUT's own server CA included.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import re
import secrets
import ssl
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
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
    created_at: float = 0.0


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
    run_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"delivery_id": self.delivery_id, "subscription_id": self.subscription_id,
                "client_id": self.client_id, "event_id": self.event_id, "type": self.type,
                "callback_url": self.callback_url, "body": self.body,
                "signature_header": self.signature, "status": self.status,
                "attempts": list(self.attempts), "run_id": self.run_id}


class Notifier:
    """Holds subscriptions and pushes events; ``on_attempt`` lets the audit log see each try."""

    def __init__(self, ca_path: str | None = None, max_attempts: int = 5,
                 backoff_s: float = 0.5, timeout_s: float = 5.0, on_attempt: Any = None,
                 state_dir: Path | None = None) -> None:
        self.subscriptions: dict[str, Subscription] = {}
        self.deliveries: list[Delivery] = []
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self.timeout_s = timeout_s
        self.ca_path = ca_path
        self.on_attempt = on_attempt
        self.state_dir = state_dir
        self._tasks: set[asyncio.Task[None]] = set()
        self._trusted: list[str] = []  # PEM of each extra CA (a SUT's own server CA)
        self._ssl: ssl.SSLContext | None = None
        if state_dir is not None:
            self._load()

    # --- persistence --------------------------------------------------------------------------
    @property
    def _subscriptions_file(self) -> Path | None:
        return self.state_dir / "subscriptions.json" if self.state_dir else None

    @property
    def _trust_file(self) -> Path | None:
        return self.state_dir / "notification-trust.pem" if self.state_dir else None

    def _load(self) -> None:
        path, trust = self._subscriptions_file, self._trust_file
        if path is not None and path.exists():
            try:
                for raw in json.loads(path.read_text(encoding="utf-8")):
                    sub = Subscription(**{**raw, "events": tuple(raw["events"])})
                    self.subscriptions[sub.subscription_id] = sub
            except (ValueError, TypeError, KeyError):
                pass  # an unreadable file is no subscriptions, not a mock that cannot start
        if trust is not None and trust.exists():
            text = trust.read_text(encoding="utf-8")
            self._trusted = [block + "-----END CERTIFICATE-----\n"
                             for block in text.split("-----END CERTIFICATE-----") if block.strip()]

    def _write(self, path: Path | None, text: str) -> None:
        if path is None:
            return
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # holds the secrets
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        tmp.replace(path)

    def _save(self) -> None:
        self._write(self._subscriptions_file,
                    json.dumps([asdict(s) for s in self.subscriptions.values()], indent=1))

    # --- trust --------------------------------------------------------------------------------
    def trust(self, ca_pem: str) -> int:
        """Also trust this CA (PEM, one or more certificates) for deliveries; returns how many
        extra CAs are trusted. Raises ValueError for anything that is not a certificate."""
        probe = ssl.create_default_context()
        try:
            probe.load_verify_locations(cadata=ca_pem)
        except (ssl.SSLError, ValueError) as exc:
            raise ValueError(f"not a PEM CA certificate: {exc}") from exc
        if ca_pem not in self._trusted:
            self._trusted.append(ca_pem)
            self._write(self._trust_file, "".join(self._trusted))
            self._ssl = None
        return len(self._trusted)

    def _verify(self) -> ssl.SSLContext:
        if self._ssl is None:
            context = ssl.create_default_context(cafile=self.ca_path) if self.ca_path \
                else ssl.create_default_context()
            for pem in self._trusted:
                context.load_verify_locations(cadata=pem)
            self._ssl = context
        return self._ssl

    # --- subscriptions and events -------------------------------------------------------------
    def subscribe(self, client_id: str, callback_url: str, events: list[str]) -> Subscription:
        sub = Subscription(f"sub_{uuid.uuid4().hex[:16]}", client_id, callback_url,
                           tuple(events), secrets.token_hex(32), time.time())
        # Older subscriptions of this client and URL whose events the new one covers are dead
        # (a subscriber that restarted forgot their secrets): drop them.
        for old in list(self.subscriptions.values()):
            if (old.client_id, old.callback_url) == (client_id, callback_url) \
                    and set(old.events) <= set(events):
                del self.subscriptions[old.subscription_id]
        self.subscriptions[sub.subscription_id] = sub
        self._save()
        return sub

    def recipients(self, event_type: str) -> list[Subscription]:
        """Per (client, callback URL), the newest subscription that wants this event."""
        newest: dict[tuple[str, str], Subscription] = {}
        for sub in self.subscriptions.values():
            if event_type not in sub.events:
                continue
            key = (sub.client_id, sub.callback_url)
            if key not in newest or sub.created_at >= newest[key].created_at:
                newest[key] = sub
        return sorted(newest.values(), key=lambda s: -s.created_at)

    async def emit(self, event_type: str, personal_id: str, data: dict[str, Any],
                   wait_first_attempt: bool = True, run_id: str | None = None) -> list[Delivery]:
        event_id = f"evt_{uuid.uuid4().hex}"
        occurred_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        payload = {"event_id": event_id, "type": event_type, "occurred_at": occurred_at,
                   "personal_id": personal_id, "data": data}
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        created = []
        for sub in self.recipients(event_type):
            delivery = Delivery(f"dlv_{uuid.uuid4().hex[:16]}", sub.subscription_id,
                                sub.client_id, event_id, event_type, sub.callback_url, body,
                                run_id=run_id)
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
        sub = self.subscriptions.get(delivery.subscription_id)
        if sub is None:  # superseded between the event and this delivery
            delivery.status = "failed"
            if not first.done():
                first.set_result(None)
            return
        async with httpx.AsyncClient(verify=self._verify(), timeout=self.timeout_s,
                                     follow_redirects=False, trust_env=False) as client:
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

    def clear(self, run_id: str | None = None) -> None:
        """Forget deliveries (all, or one run's); subscriptions stay: they are the SUT's."""
        self.deliveries[:] = [] if run_id is None else [d for d in self.deliveries
                                                        if d.run_id != run_id]
