"""Secret redaction for evidence: tokens, keys and credentials never reach a report.

Applied when evidence is constructed (not at render time) so no code path can leak a secret.
"""

from __future__ import annotations

import re
from typing import Any

REDACTED = "[REDACTED]"

# Header and field names whose values are credentials, compared case-insensitively.
SECRET_KEYS = frozenset({
    "authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key",
    "client_assertion", "client_secret", "password", "secret", "access_token",
    "refresh_token", "id_token", "private_key", "api_key", "x-npdb-signature",
})

_PATTERNS = (
    # A JWT keeps its header so the evidence still shows alg/kid, which is what auth checks are about.
    (re.compile(r"\b(eyJ[A-Za-z0-9_-]{2,})\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*"), r"\1.[REDACTED]"),
    (re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 [REDACTED]"),
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.S),
     "[REDACTED PRIVATE KEY]"),
    (re.compile(r"(?i)\b(client_secret|client_assertion|password|access_token)=([^&\s\"']+)"),
     r"\1=[REDACTED]"),
    # Credential headers written inside a string, e.g. a curl reproduction command.
    (re.compile(r"(?i)\b(proxy-authorization|cookie|set-cookie|x-api-key|x-npdb-signature)"
                r"\s*:\s*[^'\"\r\n]+"), r"\1: [REDACTED]"),
    (re.compile(r"(?i)\b(authorization)\s*:\s*(?!bearer\b)[^\s'\"]+ [^'\"\r\n]+"),
     r"\1: [REDACTED]"),
)


def redact_text(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact(value: Any) -> Any:
    """Return a copy of ``value`` with secrets replaced; keeps structure for the report."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, bytes):
        return redact_text(value.decode("utf-8", errors="replace"))
    if isinstance(value, dict):
        return {k: (REDACTED if isinstance(k, str) and k.lower() in SECRET_KEYS and v
                    else redact(v)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v) for v in value]
    return value
