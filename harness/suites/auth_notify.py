"""AUTH checks of the NPDB change-notification webhook (``POST /connection/v1/notifications``):
only HMAC-signed, fresh, never-seen-before notifications are accepted (docs/interfaces.md §3).

A genuine signed notification comes from the mock NPDB itself (admin API ``/admin/notifications``),
so the harness never needs the subscription secret.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from harness.checks import CheckResult, Evidence, Severity, check
from harness.suites.auth_probe import NOTIFICATIONS_PATH, AuthContext, Probe, expect_refused

NOTIFY_REQ = ("connection/v1 §notifications: X-NPDB-Signature t=<unix>,v1=HMAC-SHA256(secret, "
              "\"<t>.<body>\"); bad/missing signature 401, byte-identical replay 409")
SIGNATURE_HEADER = "X-NPDB-Signature"
SUBSCRIBE_WAIT_S = 6.0  # the SUT subscribes in the background after start-up


@dataclass(frozen=True)
class SignedNotification:
    """A notification the mock NPDB signed and delivered (or tried to) to the SUT."""

    body: bytes
    signature: str
    delivered_status: int | None  # the SUT's answer to the mock's first attempt
    delivery: dict[str, Any]

    @property
    def accepted_by_sut(self) -> bool:
        return self.delivered_status is not None and 200 <= self.delivered_status < 300


def _same_endpoint(callback_url: str, base_url: str) -> bool:
    a, b = urlsplit(callback_url), urlsplit(base_url)
    return (a.hostname, a.port) == (b.hostname, b.port)


def genuine_notification(ctx: AuthContext) -> SignedNotification | CheckResult:
    """Ask the mock to emit a residence change and capture its delivery to this SUT."""
    if ctx.admin is None:
        return CheckResult.errored("needs the mock NPDB's admin API to emit a signed notification")
    person = ctx.people[0]
    deadline = time.monotonic() + SUBSCRIBE_WAIT_S
    while True:
        try:
            emitted = ctx.admin.notify("residence_change", person.personal_id)
        except Exception as failed:  # noqa: BLE001 - the mock's failure is this check's error
            return CheckResult.errored(f"the mock NPDB could not emit a notification: {failed}")
        ours = [d for d in emitted.get("deliveries", [])
                if _same_endpoint(str(d.get("callback_url", "")), ctx.base_url)]
        if ours:
            break
        if time.monotonic() > deadline:
            return CheckResult.errored(
                "the SUT has no NPDB notification subscription for its own endpoint, so no "
                "genuine notification can be captured",
                Evidence.note(str([d.get("callback_url") for d in emitted.get("deliveries", [])]),
                              title="callback URLs subscribed at the mock"))
        time.sleep(1.0)
    delivery = ours[0]
    attempts = delivery.get("attempts") or []
    status = attempts[0].get("status") if attempts else None
    return SignedNotification(str(delivery.get("body", "")).encode(),
                              str(delivery.get("signature_header", "")), status, delivery)


def _send(ctx: AuthContext, description: str, body: bytes, signature: str | None) -> Probe:
    headers = {SIGNATURE_HEADER: signature} if signature is not None else {}
    return ctx.post(description, None, None, path=NOTIFICATIONS_PATH, raw=body, headers=headers)


def _event(ctx: AuthContext) -> bytes:
    event = {"event_id": f"evt_popcert_{uuid.uuid4().hex}", "type": "residence_change",
             "occurred_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
             "personal_id": ctx.people[0].personal_id,
             "data": {"permanent_residence": "Số 1, đường Lê Lợi, Thành phố Hà Nội"}}
    return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()


def _forged_signature(body: bytes, timestamp: int) -> str:
    secret = secrets.token_hex(32)  # not the subscription's secret: the attacker does not know it
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def _accepted_once(ctx: AuthContext, genuine: SignedNotification) -> CheckResult | Probe | None:
    """Make sure the SUT has accepted the genuine notification once (the mock's delivery, or ours
    when the mock could not reach it, e.g. without a client certificate under mTLS)."""
    if genuine.accepted_by_sut:
        return None
    probe = _send(ctx, "genuine notification signed by the NPDB (first delivery)",
                  genuine.body, genuine.signature)
    status = probe.exchange.status
    if status is None or not 200 <= status < 300:
        return CheckResult.errored(
            "the SUT did not accept a genuine, freshly signed NPDB notification "
            f"(HTTP {status}), so refusals prove nothing", *probe.evidence())
    return probe


def _genuine_accepted(ctx: AuthContext) -> tuple[SignedNotification, Probe | None] | CheckResult:
    """A genuine notification the SUT has accepted once, with our delivery probe if we made it;
    a CheckResult when that precondition fails (then refusals would prove nothing)."""
    genuine = genuine_notification(ctx)
    if isinstance(genuine, CheckResult):
        return genuine
    first = _accepted_once(ctx, genuine)
    if isinstance(first, CheckResult):
        return first
    return genuine, first


@check("AUTH-NOTIFY-SIGNATURE", suite="auth", severity=Severity.CRITICAL, requirement=NOTIFY_REQ,
       defect="auth.notification_unsigned_accepted")
def notify_signature(ctx: AuthContext) -> CheckResult:
    """Notifications without a valid NPDB signature are refused."""
    # Only the precondition counts here: forgeries prove nothing if genuine ones are refused too.
    if isinstance(ready := _genuine_accepted(ctx), CheckResult):
        return ready
    now = int(time.time())
    variants: list[tuple[str, Callable[[bytes], str | None]]] = [
        ("notification without X-NPDB-Signature", lambda body: None),
        ("notification signed with a wrong secret", lambda body: _forged_signature(body, now)),
        ("notification with an all-zero signature", lambda body: f"t={now},v1={'0' * 64}"),
        ("notification with a garbage signature header", lambda body: "garbage"),
    ]
    probes = []
    for description, signature_of in variants:
        body = _event(ctx)  # a fresh event each time: only the signature is under test
        probes.append(_send(ctx, description, body, signature_of(body)))
        if probes[-1].exchange.error is not None:
            break
    return expect_refused(probes, what="unsigned or badly signed notification",
                          accepted_means="accepted")


@check("AUTH-NOTIFY-REPLAY", suite="auth", severity=Severity.HIGH, requirement=NOTIFY_REQ,
       defect="auth.notification_replay_accepted")
def notify_replay(ctx: AuthContext) -> CheckResult:
    """A byte-identical replay of a delivered NPDB notification is refused with 409."""
    ready = _genuine_accepted(ctx)
    if isinstance(ready, CheckResult):
        return ready
    genuine, first = ready
    replay = _send(ctx, "byte-identical replay of a delivered notification (same body and "
                   "signature)", genuine.body, genuine.signature)
    result = expect_refused([replay], what="replayed notification",
                            accepted_means="accepted again", refused=frozenset({409}))
    delivered = Evidence.note(
        f"event {genuine.delivery.get('event_id')} delivered by the mock NPDB, first answer "
        f"HTTP {genuine.delivered_status}" + ("; delivered again by the harness" if first else ""),
        title="original delivery")
    return CheckResult(result.status, result.summary, (*result.evidence, delivered),
                       result.measurements)
