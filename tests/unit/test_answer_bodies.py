"""Bodies the connection spec defines beyond the status, judged offline: Error.fields on
validation errors only (AUTH-ERROR-FIELDS), the webhook's NotificationAck (AUTH-NOTIFY-ACK) and
what a final status says about outcome and reasons (SCN-OUTCOME)."""

from __future__ import annotations

from typing import Any

import pytest

from harness.suites.auth.answers import ack_problem, fields_problem
from harness.suites.scenario.checks import final_status_problem

NOT_FOUND = {"error": "not_found", "message": "no such dossier", "request_id": "x"}
INVALID = {"error": "validation_error", "message": "invalid", "request_id": "x"}


@pytest.mark.parametrize(("status", "body", "invalid", "words"), [
    (404, NOT_FOUND, None, None),
    (404, {**NOT_FOUND, "fields": ["dossier_id"]}, None, "validation errors only"),
    (415, {**NOT_FOUND, "error": "unsupported_media_type", "fields": []}, None,
     "validation errors only"),
    (422, INVALID, "procedure_code", None),  # fields is optional
    (422, {**INVALID, "fields": ["/procedure_code"]}, "procedure_code", None),
    (422, {**INVALID, "fields": ["body.applicant"]}, "procedure_code", "do not name"),
    (400, {**INVALID, "fields": ["procedure_code"]}, None, None),  # a validation_error body
    # a broken input answered 400 (not 422) is still a validation error: the status is
    # AUTH-SCHEMA-VIOLATION's finding, the fields are allowed
    (400, {"error": "bad_request", "message": "m", "request_id": "x",
           "fields": ["/procedure_code"]}, "procedure_code", None),
])
def test_fields_only_on_validation_errors(status: int, body: dict[str, Any], invalid: str | None,
                                          words: str | None) -> None:
    problem = fields_problem(status, body, invalid)
    assert (problem is None) if words is None else (problem is not None and words in problem)


@pytest.mark.parametrize(("body", "expected", "words"), [
    ({"event_id": "e1", "status": "accepted"}, "accepted", None),
    ({"event_id": "e1", "status": "duplicate"}, "duplicate", None),
    ({"event_id": "e1", "status": "accepted"}, "duplicate", "where 'duplicate' was due"),
    ({"event_id": "e2", "status": "accepted"}, "accepted", "not 'e1'"),
    ({"event_id": "e1", "status": "accepted", "ok": True}, "accepted", "NotificationAck"),
    ({"ok": True}, "accepted", "NotificationAck"),
    (None, "accepted", "NotificationAck"),
])
def test_the_acknowledgement_is_the_specs_notification_ack(body: Any, expected: str,
                                                           words: str | None) -> None:
    problem = ack_problem(body, "e1", expected)
    assert (problem is None) if words is None else (problem is not None and words in problem)


@pytest.mark.parametrize(("status", "body", "words"), [
    ("completed", {"outcome": "approved", "reasons": []}, None),
    ("completed", {"outcome": None, "reasons": []}, "completed means approved"),
    ("completed", {"outcome": "rejected", "reasons": ["x"]}, "completed means approved"),
    ("rejected", {"outcome": "rejected", "reasons": ["mother does not match"]}, None),
    ("rejected", {"outcome": "rejected", "reasons": []}, "without reasons"),
    ("rejected", {"outcome": "approved", "reasons": ["x"]}, "not 'rejected'"),
    ("processing", {"outcome": None, "reasons": []}, None),
])
def test_a_final_status_says_its_outcome(status: str, body: dict[str, Any],
                                         words: str | None) -> None:
    problem = final_status_problem(status, body)
    assert (problem is None) if words is None else (problem is not None and words in problem)
