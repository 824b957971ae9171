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
from harness.suites.auth.context import AuthContext
from harness.suites.auth.probe import NOTIFICATIONS_PATH, Probe, expect_refused

# Beyond the 300 s window with room for clock skew between the harness and the SUT.
OUT_OF_WINDOW_S = 600
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
    if ctx.state.no_subscription is not None:  # already waited SUBSCRIBE_WAIT_S for it this run
        return ctx.state.no_subscription
    person = ctx.people[0]
    deadline = time.monotonic() + SUBSCRIBE_WAIT_S
    pause = 0.1  # a SUT subscribes within moments of starting: look again soon, then less often
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
            ctx.state.no_subscription = CheckResult.errored(
                "the SUT has no NPDB notification subscription for its own endpoint, so no "
                f"genuine notification can be captured (waited {SUBSCRIBE_WAIT_S:g} s)",
                Evidence.note(str([d.get("callback_url") for d in emitted.get("deliveries", [])]),
                              title="callback URLs subscribed at the mock"))
            return ctx.state.no_subscription
        time.sleep(pause)
        pause = min(1.0, pause * 2)
    # the delivery the SUT accepted; else the newest subscription's (a SUT that re-subscribes at
    # each start keeps only its latest secret)
    accepted = [d for d in ours if 200 <= (_first_status(d) or 0) < 300]
    delivery = accepted[0] if accepted else ours[-1]
    ctx.state.subscription_id = str(delivery.get("subscription_id") or "") or None
    status = _first_status(delivery)
    return SignedNotification(str(delivery.get("body", "")).encode(),
                              str(delivery.get("signature_header", "")), status, delivery)


def _first_status(delivery: dict[str, Any]) -> int | None:
    """The SUT's answer to the mock's first delivery attempt."""
    attempts = delivery.get("attempts") or []
    status = attempts[0].get("status") if attempts and isinstance(attempts[0], dict) else None
    return status if isinstance(status, int) else None


def _send(ctx: AuthContext, description: str, body: bytes, signature: str | None) -> Probe:
    headers = {SIGNATURE_HEADER: signature} if signature is not None else {}
    return ctx.post(description, None, None, path=NOTIFICATIONS_PATH, raw=body, headers=headers)


def new_event(ctx: AuthContext) -> bytes:
    """A residence-change notification never sent before (its own event_id)."""
    return _event(ctx)


def npdb_signature(ctx: AuthContext, body: bytes, timestamp: int | None = None
                   ) -> dict[str, str] | CheckResult:
    """The X-NPDB-Signature header the NPDB would send with ``body`` at ``timestamp`` (now by
    default) to this SUT's subscription; the mock signs it, the secret never leaves the mock."""
    if ctx.state.subscription_id is None:
        genuine = genuine_notification(ctx)
        if isinstance(genuine, CheckResult):
            return genuine
    if ctx.state.subscription_id is None or ctx.admin is None:
        return CheckResult.errored("the mock NPDB's delivery names no subscription to sign for")
    try:
        header = ctx.admin.sign(ctx.state.subscription_id, body, timestamp)
    except Exception as failed:  # noqa: BLE001 - the mock's failure is this check's error
        return CheckResult.errored(f"the mock NPDB could not sign a notification: {failed}")
    return {SIGNATURE_HEADER: str(header)}


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


@check("AUTH-NOTIFY-SIGNATURE", severity=Severity.CRITICAL,
       requirements=["CONN-NOTIFY-SIGNATURE"],
       defect=("auth.notification_unsigned_accepted", "auth.notification_bad_signature_403"))
def notify_signature(ctx: AuthContext) -> CheckResult:
    """Notifications without a valid NPDB signature are refused with 401."""
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
    # receiveNotification: "A missing or bad signature ... is refused with 401"
    return expect_refused(probes, what="unsigned or badly signed notification",
                          accepted_means="accepted", refused=frozenset({401}))


@check("AUTH-NOTIFY-REPLAY", severity=Severity.HIGH,
       requirements=["CONN-NOTIFY-SIGNATURE", "CONN-NOTIFY-REPLAY"],
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


@check("AUTH-NOTIFY-FRESHNESS", severity=Severity.HIGH,
       requirements=["CONN-NOTIFY-SIGNATURE", "CONN-NOTIFY-FRESHNESS"],
       defect="auth.notification_stale_accepted")
def notify_freshness(ctx: AuthContext) -> CheckResult:
    """Genuinely signed notifications dated 10 minutes ago or 10 minutes ahead are refused."""
    ready = _genuine_accepted(ctx)
    if isinstance(ready, CheckResult):
        return ready
    now = int(time.time())
    control_body = new_event(ctx)
    control_header = npdb_signature(ctx, control_body, now)
    if isinstance(control_header, CheckResult):
        return control_header
    control = ctx.post("new notification signed by the NPDB now", None, None,
                       path=NOTIFICATIONS_PATH, raw=control_body, headers=control_header)
    if control.exchange.status is None or not 200 <= control.exchange.status < 300:
        return CheckResult.errored(
            f"a new notification the NPDB signed now was not accepted ({control.exchange.status}"
            f"{', ' + control.exchange.error if control.exchange.error else ''}), so refusing "
            "old or future ones proves nothing", *control.evidence())
    probes: list[Probe] = []
    for offset, when in ((-OUT_OF_WINDOW_S, "10 minutes ago"), (OUT_OF_WINDOW_S, "10 minutes ahead")):
        body = new_event(ctx)
        header = npdb_signature(ctx, body, now + offset)
        if isinstance(header, CheckResult):
            return header
        probes.append(ctx.post(f"new notification genuinely signed with t {when}", None, None,
                               path=NOTIFICATIONS_PATH, raw=body, headers=header))
        if probes[-1].exchange.error is not None:
            break
    # "... or a timestamp more than 300 s away from now, is refused with 401"
    return expect_refused(probes, what="notification outside the 300 s window",
                          accepted_means="accepted", refused=frozenset({401}))


def _signed_at(signature: str) -> int | None:
    for part in signature.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            return int(value)
    return None


def signed_at_of(header: dict[str, str]) -> int | None:
    """The timestamp (Unix seconds) an X-NPDB-Signature header carries."""
    return _signed_at(header.get(SIGNATURE_HEADER, ""))


def fresh_after(signed_at: int | None) -> int | None:
    """A signing time later than ``signed_at`` (None: now): a signature it makes differs."""
    if signed_at is None:
        return None
    return max(int(time.time()), signed_at + 1)


@check("AUTH-NOTIFY-REDELIVERY", severity=Severity.MEDIUM,
       requirements=["CONN-NOTIFY-REDELIVERY", "CONN-NOTIFY-NO-BEARER", "NPDB-SUBSCRIPTION"],
       defect="auth.notification_redelivery_conflict")
def notify_redelivery(ctx: AuthContext) -> CheckResult:
    """A notification the SUT already accepted, delivered again by the NPDB with a fresh
    signature (same event_id), is acknowledged with 200."""
    ready = _genuine_accepted(ctx)
    if isinstance(ready, CheckResult):
        return ready
    genuine, _ = ready
    # A fresh signature needs a later second: signed as the NPDB would a second on, no waiting.
    header = npdb_signature(ctx, genuine.body, fresh_after(_signed_at(genuine.signature)))
    if isinstance(header, CheckResult):
        return header
    probe = ctx.post("the same notification redelivered by the NPDB with a fresh signature",
                     None, None, path=NOTIFICATIONS_PATH, raw=genuine.body, headers=header)
    ex = probe.exchange
    if ex.error is not None or ex.status is None or ex.status == 429:
        return CheckResult.errored(f"could not decide: {probe.description} → "
                                   f"{ex.error or 'HTTP 429'}", *probe.evidence())
    if 200 <= ex.status < 300:
        ack = ex.json()
        said = ack.get("status") if isinstance(ack, dict) else None
        return CheckResult.passed(f"{probe.description} → HTTP {ex.status}"
                                  + (f" ({said})" if said else ""), *probe.evidence())
    why = (" — treated as a replay: redeliveries after a lost acknowledgement would never stop"
           if ex.status == 409 else "")
    return CheckResult.failed(f"{probe.description} → HTTP {ex.status} where 200 was expected{why}",
                              *probe.evidence())
