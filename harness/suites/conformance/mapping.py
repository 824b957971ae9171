"""Which popcert check a schemathesis failure belongs to, by root cause.

One bad response often trips several built-in checks (a 500 is also an undocumented status; a
text/plain body also breaks the JSON schema). Each request's failures are attributed to their root
cause so each defect of the reference system fails exactly one CONF- check.
"""

from __future__ import annotations

from harness.suites.conformance import builtin_checks

# schemathesis check name -> popcert check id: the checks that are on in the one table
# (builtin_checks.TABLE, with the reason of every check that is off).
CHECK_IDS: dict[str, str] = builtin_checks.CHECK_IDS

# Failures that say nothing new once their cause is known: cause -> consequences dropped.
_CONSEQUENCES: tuple[tuple[str, frozenset[str]], ...] = (
    # A 5xx is the defect; that it is undocumented or not JSON follows from it.
    ("not_a_server_error", frozenset({
        "status_code_conformance", "content_type_conformance", "response_schema_conformance",
        "response_headers_conformance", "negative_data_rejection", "missing_required_header"})),
    # Accepting invalid input is the defect; echoing the invalid value back breaks the schema.
    ("negative_data_rejection", frozenset({
        "response_schema_conformance", "response_headers_conformance"})),
    # An undocumented status has no documented media type or schema to match.
    ("status_code_conformance", frozenset({
        "content_type_conformance", "response_schema_conformance",
        "response_headers_conformance"})),
    # A body of the wrong media type cannot match the JSON schema either.
    ("content_type_conformance", frozenset({"response_schema_conformance"})),
)


def root_causes(failed: set[str], status: int | None = None) -> set[str]:
    """The failures of one request that remain after dropping their consequences."""
    remaining = set(failed)
    if "status_code_conformance" in remaining and status is not None and 400 <= status < 500:
        # An undocumented 4xx still rejects the input: the defect is the status, not acceptance.
        remaining.discard("negative_data_rejection")
    for cause, consequences in _CONSEQUENCES:
        if cause in remaining:
            remaining -= consequences
    return remaining
