"""The SUT's NPDB subscription is looked for once per run.

Every notification check needs a delivery the mock NPDB made to the SUT. A SUT that never
subscribes is waited for SUBSCRIBE_WAIT_S once; the later checks end with the same error at once
(five checks used to wait 6.5 s each against such a SUT).
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from harness.checks import CheckResult, Status
from harness.suites.auth import notify
from harness.suites.auth.context import AuthState

BASE_URL = "https://127.0.0.1:8443"


class Admin:
    """The mock's admin API as genuine_notification uses it: each emit lists the deliveries."""

    def __init__(self, callback_urls: list[str]) -> None:
        self.callback_urls = callback_urls
        self.emitted = 0

    def notify(self, event_type: str, personal_id: str) -> dict[str, Any]:
        self.emitted += 1
        return {"deliveries": [{"callback_url": url, "subscription_id": "sub_1",
                                "body": "{}", "signature_header": "t=1,v1=00",
                                "attempts": [{"status": 200}]} for url in self.callback_urls]}


def _context(admin: Admin) -> Any:
    return SimpleNamespace(admin=admin, state=AuthState(), base_url=BASE_URL,
                           people=[SimpleNamespace(personal_id="001099012345")])


def test_a_sut_that_never_subscribes_is_waited_for_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(notify, "SUBSCRIBE_WAIT_S", 0.2)
    admin = Admin(["https://127.0.0.1:9/connection/v1/notifications"])  # someone else's
    ctx = _context(admin)
    first = notify.genuine_notification(ctx)
    looked = admin.emitted
    second = notify.genuine_notification(ctx)
    assert isinstance(first, CheckResult) and isinstance(second, CheckResult)
    assert first.status == second.status == Status.ERROR
    assert second.summary == first.summary and "no NPDB notification subscription" in first.summary
    assert second.evidence == first.evidence and first.evidence  # what was subscribed instead
    assert looked >= 2 and admin.emitted == looked  # the second check did not wait again


def test_a_subscribed_sut_gives_its_delivery() -> None:
    admin = Admin([f"{BASE_URL}/connection/v1/notifications"])
    ctx = _context(admin)
    genuine = notify.genuine_notification(ctx)
    assert isinstance(genuine, notify.SignedNotification) and genuine.accepted_by_sut
    assert ctx.state.subscription_id == "sub_1" and ctx.state.no_subscription is None
