"""Secret redaction for evidence: tokens, keys and credentials never reach a report.

Applied when evidence is constructed (not at render time) so no code path can leak a secret.
"""

from __future__ import annotations

import re
from typing import Any

from harness.untrusted import MAX_EVIDENCE_DEPTH, containers, walk_bounded

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
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.DOTALL),
     "[REDACTED PRIVATE KEY]"),
    (re.compile(r"(?i)\b(client_secret|client_assertion|password|access_token)=([^&\s\"']+)"),
     r"\1=[REDACTED]"),
    # Bandit B105-B107 quote the literal ("Possible hardcoded password: 'npdb-secret'").
    (re.compile(r"(?i)(hardcoded password:\s*)(['\"]).*?\2"), r"\1[REDACTED]"),
    # Credential headers written inside a string, e.g. a curl reproduction command.
    (re.compile(r"(?i)\b(proxy-authorization|cookie|set-cookie|x-api-key|x-npdb-signature)"
                r"\s*:\s*[^'\"\r\n]+"), r"\1: [REDACTED]"),
    (re.compile(r"(?i)\b(authorization)\s*:\s*(?!bearer\b)(?![A-Za-z]+ \$TOKEN\b)[^\s'\"]+ [^'\"\r\n]+"),
     r"\1: [REDACTED]"),
)


# A reproduction command must stay runnable: its credential becomes a shell variable the assessor
# sets (``TOKEN=... sh -c '...'``), in double quotes so the shell expands it.
TOKEN_PLACEHOLDER = "$TOKEN"
# A value the caller declared not secret (``shown``) is held as \x00<n>\x00 while the rest is
# redacted; no pattern matches across it, and the credential rewrite skips a shell variable.
_COMMAND_CREDENTIAL = (
    re.compile(r"""'(authorization|proxy-authorization)\s*:\s*([A-Za-z]+)\s+(?!\x00)[^']*'""",
               re.IGNORECASE),
    re.compile(r"""(?<!['"])\b(authorization|proxy-authorization)\s*:\s*([A-Za-z]+)\s+(?!\x00)"""
               r"""[^\s'"]+""", re.IGNORECASE),
)


def redact_command(command: str, shown: tuple[str, ...] = ()) -> str:
    """A reproduction command with credentials as ``$TOKEN``, then the usual redaction.

    ``shown`` values (forged tokens: not credentials) stay as written.
    """
    command = command.replace("\x00", "")
    for index, value in enumerate(shown):
        command = command.replace(value, f"\x00{index}\x00")
    command = _COMMAND_CREDENTIAL[0].sub(rf'"\1: \2 {TOKEN_PLACEHOLDER}"', command)
    command = _COMMAND_CREDENTIAL[1].sub(rf"\1: \2 {TOKEN_PLACEHOLDER}", command)
    command = redact_text(command)
    for index, value in enumerate(shown):
        command = command.replace(f"\x00{index}\x00", value)
    return command


def redact_text(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact(value: Any) -> Any:
    """Return a copy of ``value`` with secrets replaced; keeps structure for the report.

    Iterative, and containers nested deeper than MAX_EVIDENCE_DEPTH become a marker: a hostile
    body nested thousands deep cannot crash evidence construction, rendering or signing.
    """
    return walk_bounded(value, _redacted, MAX_EVIDENCE_DEPTH)


def _redacted(key: Any, item: Any) -> Any:
    if isinstance(key, str) and key.lower() in SECRET_KEYS and item:  # a credential field
        return REDACTED
    if isinstance(item, str):
        return redact_command(item) if key == "command" else redact_text(item)
    if isinstance(item, bytes):
        return redact_text(item.decode("utf-8", errors="replace"))
    return containers(key, item)
