"""Secrets in source: private keys, AWS keys, JWTs, passwords and high-entropy strings in assignments.

Line-based over every text file of the inventory (code, YAML, .env), so it also catches secrets
outside Python. Test fixtures are allowlisted by path; the secret itself never reaches evidence.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass

from harness.suites.sast.bandit import CodeFinding
from harness.suites.sast.files import (
    SourceInventory,
    fingerprint,
    matches_any,
    read_lines,
)

# Test fixtures legitimately carry throw-away keys and tokens.
DEFAULT_ALLOWLIST: tuple[str, ...] = ("tests/*", "*/tests/*", "test_*.py", "*_test.py",
                                      "conftest.py", "*/fixtures/*", "fixtures/*")
# Longer lines (minified, or padded to hide a secret) are scanned in overlapping windows.
MAX_LINE_CHARS = 4000
WINDOW_OVERLAP_CHARS = 400

_SECRET_NAME = r"(?:password|passwd|pwd|passphrase|secret|client_secret|api_key|apikey|token|access_key|private_key)"
_SECRET_WORD = re.compile(_SECRET_NAME, re.IGNORECASE)
_QUOTED = r"[bru]{0,2}(?P<q>[\"'])(?P<value>[^\"'\n]{6,})(?P=q)"


@dataclass(frozen=True)
class SecretRule:
    rule: str
    message: str
    pattern: re.Pattern[str]
    severity: str = "high"


RULES: tuple[SecretRule, ...] = (
    SecretRule("private-key", "private key in source",
               re.compile(r"-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY"
                          r"(?: BLOCK)?-----")),
    SecretRule("aws-access-key-id", "AWS access key id",
               re.compile(r"\b(?P<value>(?:AKIA|ASIA|AGPA|AIDA|AROA)[0-9A-Z]{16})\b")),
    SecretRule("aws-secret-access-key", "AWS secret access key",
               re.compile(r"(?i)aws.{0,20}secret.{0,20}[:=]\s*[\"'](?P<value>[A-Za-z0-9/+=]{40})[\"']")),
    SecretRule("jwt", "JSON Web Token",
               re.compile(r"\b(?P<value>eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,})")),
    SecretRule("password-assignment", "credential assigned a literal",
               re.compile(rf"(?i)(?P<name>[\w.\-\[\]'\"]*{_SECRET_NAME}[\w\-]*['\"]?)\s*(?::|=|:=)\s*"
                          + _QUOTED)),
)
_ASSIGNED_LITERAL = re.compile(r"(?P<name>[\w.\-\[\]'\"]+)\s*(?::|=|:=)\s*" + _QUOTED)
# Placeholders that are not secrets: env lookups, templates, redaction marks, examples.
_PLACEHOLDER = re.compile(r"^(?:\$\{.*\}|\{\{.*\}\}|<.*>|%\(.*\)s|\*+|x+|\.+|"
                          r"(?i:changeme_in_env|example|placeholder|redacted|dummy|none|null))$")
# Names that point at a secret rather than hold one, and values that are such pointers
# (environment variable names, file names, regular expressions).
_REFERENCE_SUFFIXES = ("_type", "_url", "_uri", "_env", "_var", "_name", "_file", "_path",
                       "_field", "_header", "_endpoint", "_id", "_kind", "_length", "_prefix")
_REFERENCE_VALUE = re.compile(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$|"
                              r"\.(?:py|pem|key|crt|json|ya?ml|txt|env)$|\(\?")
_BASE64_CHARS = re.compile(r"^[A-Za-z0-9+/=_-]{20,}$")
_HEX_CHARS = re.compile(r"^[0-9a-fA-F]{32,}$")
BASE64_ENTROPY_LIMIT = 4.5  # bits per char, as detect-secrets
HEX_ENTROPY_LIMIT = 3.0


def shannon_entropy(text: str) -> float:
    counts = {c: text.count(c) for c in set(text)}
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def scan_secrets(inventory: SourceInventory,
                 allowlist: tuple[str, ...] = DEFAULT_ALLOWLIST) -> tuple[list[CodeFinding], list[str]]:
    """Findings, and the files skipped because the allowlist covers them."""
    findings: list[CodeFinding] = []
    allowed: list[str] = []
    for source in inventory.files:
        if matches_any(source.relative, allowlist):
            allowed.append(source.relative)
            continue
        for number, line in enumerate(read_lines(source), start=1):
            reported: set[str] = set()
            for window in _windows(line):
                for rule, message in _line_findings(window):
                    if rule in reported:
                        continue
                    reported.add(rule)
                    findings.append(CodeFinding(
                        relative=source.relative, line=number, rule=rule, name=rule,
                        message=message, severity="high",
                        confidence="medium" if rule == "high-entropy-string" else "high",
                        fingerprint=fingerprint(rule, source.relative, line[:MAX_LINE_CHARS])))
    return findings, allowed


def _windows(line: str) -> Iterator[str]:
    """The line itself, or overlapping slices of a long one (a secret at column 10,000 counts)."""
    if len(line) <= MAX_LINE_CHARS:
        yield line
        return
    step = MAX_LINE_CHARS - WINDOW_OVERLAP_CHARS
    for start in range(0, len(line), step):
        yield line[start:start + MAX_LINE_CHARS]


def _line_findings(line: str) -> Iterator[tuple[str, str]]:
    reported = False
    for rule in RULES:
        match = rule.pattern.search(line)
        if match is None:
            continue
        value = match.groupdict().get("value")
        if rule.rule == "password-assignment" and not _looks_like_secret(match.group("name"), value):
            continue
        yield rule.rule, _describe(rule.message, value)
        reported = True
    if reported:
        return
    for match in _ASSIGNED_LITERAL.finditer(line):
        value = match.group("value")
        if _high_entropy(value):
            yield "high-entropy-string", _describe(
                f"high-entropy string ({shannon_entropy(value):.1f} bits/char) assigned to "
                f"{match.group('name').strip(chr(39) + chr(34))}", value)
            return


def _looks_like_secret(name: str, value: str | None) -> bool:
    if not value or _PLACEHOLDER.match(value.strip()):
        return False
    bare = name.strip("'\"[]").lower()
    if value.lower() in (bare, bare.replace("_", " "), bare.replace("_", "-")) \
            or _SECRET_WORD.fullmatch(value):
        return False  # "password": "password" is a field name, not a credential
    if bare.endswith(_REFERENCE_SUFFIXES) or _REFERENCE_VALUE.search(value):
        return False  # token_url = "...", TOKEN_ENV = "NPDB_TOKEN", key_file = "x.pem": references
    # A value with spaces or ending in ':' is prose (labels, messages, docs), not a credential.
    return " " not in value.strip() and not value.endswith(":")


def _high_entropy(value: str) -> bool:
    if _HEX_CHARS.match(value):
        return shannon_entropy(value) > HEX_ENTROPY_LIMIT
    # Generated keys mix letter cases and digits; a one-class string (an alphabet) is not one.
    classes = sum(any(test(c) for c in value) for test in (str.islower, str.isupper, str.isdigit))
    return bool(_BASE64_CHARS.match(value)) and classes >= 2 \
        and shannon_entropy(value) > BASE64_ENTROPY_LIMIT


def _describe(message: str, value: str | None) -> str:
    """Say what was found without repeating any character of the secret: only its length."""
    if not value:
        return message
    return f"{message} ({len(value)} characters, value not shown)"
