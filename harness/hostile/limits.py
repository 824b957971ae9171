"""The numbers of the hostile-SUT rules, one place for every client (docs/security-model.md)."""

from __future__ import annotations

MAX_BODY_BYTES = 1_048_576  # a response body, once decoded (and as sent, where read whole)
MAX_CODINGS = 3  # Content-Encoding layers undone; a real server never needs more than one
DECODE_STEP_BYTES = 65_536  # the most one decoding step may produce
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})  # answers judged, never followed
HANDSHAKE_TIMEOUT_S = 5.0  # a TLS handshake popcert makes on its own (the TLS preflight)
# Header (and trailer) fields of one response. http.client (urllib3, requests) refuses more than
# 100 fields or a 64 KiB line; geventhttpclient has no bound at all (harness/suites/load/headers.py).
MAX_HEADER_FIELDS = 100
MAX_HEADER_BYTES = 65_536
