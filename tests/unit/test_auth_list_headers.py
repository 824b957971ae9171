"""The pure judgements of AUTH-LIST-LIMIT, AUTH-LIST-FILTERS and AUTH-RESPONSE-HEADERS (issue 20):
what is read from the spec, newest-first order, the page-is-a-prefix rule with ties, challenges,
Location and Retry-After. The checks against the reference system: tests/suites/test_auth.py."""

from __future__ import annotations

from typing import Any

from harness.net import Exchange
from harness.suites.auth.headers import challenge_schemes, location_problem, retry_after_problem
from harness.suites.auth.listing import (
    LimitSchema,
    Page,
    fill_target,
    limit_schema,
    order_problem,
    out_of_range,
    prefix_problem,
    status_values,
)
from harness.suites.auth.probe import Probe

URL = "https://127.0.0.1:8443/connection/v1/dossiers"


def _probe(status: int = 200, headers: dict[str, str] | None = None, url: str = URL) -> Probe:
    return Probe("test", Exchange("GET", url, {}, status=status, headers=headers or {}))


def _page(*items: tuple[str, str]) -> Page:
    return Page(_probe(), [{"dossier_id": i, "created_at": t, "status": "completed"}
                           for i, t in items])


def test_the_limit_schema_and_status_enum_come_from_the_spec() -> None:
    limits = limit_schema()
    assert limits == LimitSchema(minimum=1, maximum=100, default=20)
    assert fill_target(limits) == 25
    assert out_of_range(limits)[:2] == ["0", "101"]
    assert status_values() == ["received", "processing", "pending_npdb", "completed", "rejected"]


def test_newest_first_is_judged_on_created_at() -> None:
    assert order_problem(_page(("b", "2026-01-02T00:00:00Z"), ("a", "2026-01-01T00:00:00Z"))) is None
    assert order_problem(_page(("a", "2026-01-01T00:00:00Z"), ("b", "2026-01-01T00:00:00Z"))) is None
    found = order_problem(_page(("a", "2026-01-01T00:00:00Z"), ("b", "2026-01-02T00:00:00Z")))
    assert found is not None and "newer b" in found


def test_a_page_is_the_newest_of_the_full_list_ties_may_swap() -> None:
    full = _page(("c", "2026-01-03T00:00:00Z"), ("b", "2026-01-02T00:00:00Z"),
                 ("x", "2026-01-02T00:00:00Z"), ("a", "2026-01-01T00:00:00Z"))
    assert prefix_problem(_page(("c", "2026-01-03T00:00:00Z"), ("b", "2026-01-02T00:00:00Z")),
                          full) is None
    # b and x were created at the same instant: either may close a page of two
    assert prefix_problem(_page(("c", "2026-01-03T00:00:00Z"), ("x", "2026-01-02T00:00:00Z")),
                          full) is None
    skipped = prefix_problem(_page(("b", "2026-01-02T00:00:00Z"), ("a", "2026-01-01T00:00:00Z")),
                             full)
    assert skipped is not None and "'c'" in skipped


def test_challenges_are_read_as_rfc9110_lists() -> None:
    assert challenge_schemes('Bearer realm="connection-api", error="invalid_token"') == ["Bearer"]
    assert challenge_schemes('Basic realm="x", Bearer') == ["Basic", "Bearer"]
    assert challenge_schemes("") == [] and challenge_schemes('realm="x"') == []


def test_location_names_the_new_dossier_absolute_or_relative() -> None:
    path = "/connection/v1/dossiers/3f1c2a9e-8b7d-4c6e-9a1b-2d3e4f5a6b7c"
    relative = _probe(201, {"location": path})
    absolute = _probe(201, {"location": "https://city.example" + path})
    assert location_problem(relative, path) is None and location_problem(absolute, path) is None
    assert "no Location" in str(location_problem(_probe(201), path))
    assert "does not name" in str(location_problem(_probe(201, {"location": "/connection/v1/dossiers"}),
                                                   path))


def test_retry_after_is_whole_seconds_on_429_and_503() -> None:
    headers: dict[str, Any] = {"retry-after": "3"}
    assert retry_after_problem(_probe(429, headers)) is None
    assert "without Retry-After" in str(retry_after_problem(_probe(503)))
    assert "not a whole number" in str(retry_after_problem(
        _probe(429, {"retry-after": "Wed, 21 Oct 2026 07:28:00 GMT"})))
    assert retry_after_problem(_probe(200)) is None
