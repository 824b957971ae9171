"""What a seed must reproduce: the generated requests of one fuzzing run, and how to replay it.

With the same seed and the same SUT behaviour, schemathesis generates the same requests (the
settings that make it so are REPRODUCIBLE_* below; the runner writes them into schemathesis.toml).
What differs between two runs of one system is what the SUT
invents: a dossier_id, a request_id. So each request is fingerprinted as (phase, method, path and
query, SHA-256 of the body) with every UUID an earlier response carried replaced by ``{r<n>}``
(the n-th such value): two runs of the same system give the same sequence, and its digest is what
a replay is compared with. Pure: reads the NDJSON payloads the runner hands over.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any
from urllib.parse import unquote, urlsplit

# What makes a seed reproduce the run (docs/conformance.md, "Reproducing a run"): the generated
# requests depend only on the seed and the SUT's answers, never on the wall clock.
REPRODUCIBLE_SETTINGS = (
    # A failed check is recorded, not raised into hypothesis: hypothesis then never enters its
    # "keep looking for 10 s after the first bug" window nor shrinks (5 min, by the clock), and
    # every operation gets all its examples (a failure no longer ends its coverage early).
    "continue-on-failure = true",
    # A 429 is waited out (Retry-After, at most 60 s, 3 times) and the request sent again: the SUT's
    # rate limiter, which depends on how fast the host is, does not change the answers generation
    # learns from. The waited-out 429s are judged too.
    'rate-limit = "auto"',
)
REPRODUCIBLE_GENERATION = (
    'database = "none"',  # no examples carried over from an earlier run
    "no-shrink = true",  # shrinking stops by the clock; the failing request itself is the evidence
)

UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
RESPONSE_BYTES_SCANNED = 65536  # a response's ids are in its first bytes; a bomb is not read further
MAX_KNOWN_VALUES = 100_000  # bounded whatever the SUT sends


@dataclass(frozen=True)
class GeneratedRequest:
    phase: str
    operation: str
    method: str
    target: str  # path and query, server-made ids replaced
    body_sha256: str  # of the body with server-made ids replaced; "" when there is none

    def line(self) -> str:
        return f"{self.phase}\t{self.method}\t{self.target}\t{self.body_sha256}"


@dataclass
class RequestLog:
    """The generated requests in the order schemathesis sent them."""

    requests: list[GeneratedRequest] = field(default_factory=list)
    _known: dict[str, str] = field(default_factory=dict)  # server-made value -> placeholder
    _seen: set[str] = field(default_factory=set)  # case ids: a replayed case is one request

    def add_scenario(self, phase: str, label: str, recorder: dict[str, Any]) -> None:
        interactions = recorder.get("interactions") or {}
        for case_id, interaction in interactions.items():
            if not isinstance(interaction, dict) or case_id in self._seen:
                continue
            self._seen.add(case_id)
            request = interaction.get("request") or {}
            operation = _operation(recorder, case_id, label)
            self.requests.append(self._fingerprint(phase, operation, request))
            self._learn(interaction.get("response") or {})

    def _fingerprint(self, phase: str, operation: str, request: dict[str, Any]) -> GeneratedRequest:
        url = urlsplit(str(request.get("uri", "")))
        target = self._placeholders(unquote(url.path) + ("?" + unquote(url.query) if url.query else ""))
        body = _decode(request.get("body"))
        digest = ""
        if body is not None:
            text = self._placeholders(body.decode("utf-8", "surrogateescape"))
            digest = hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()
        return GeneratedRequest(phase, operation, str(request.get("method", "")), target, digest)

    def _placeholders(self, text: str) -> str:
        return UUID.sub(lambda m: self._known.get(m.group(0).lower(), m.group(0)), text)

    def _learn(self, response: dict[str, Any]) -> None:
        body = (_decode(response.get("content")) or b"")[:RESPONSE_BYTES_SCANNED]
        headers = response.get("headers") or {}
        texts = [body.decode("utf-8", "replace")]
        texts += [str(v) for k, v in headers.items() if str(k).lower() == "location"]
        for text in texts:
            for value in UUID.findall(text):
                if len(self._known) < MAX_KNOWN_VALUES:
                    self._known.setdefault(value.lower(), f"{{r{len(self._known)}}}")

    def digest(self) -> str:
        hasher = hashlib.sha256()
        for request in self.requests:
            hasher.update(request.line().encode("utf-8", "surrogateescape") + b"\n")
        return hasher.hexdigest()

    def per_operation(self) -> dict[str, int]:
        return dict(sorted(Counter(r.operation for r in self.requests).items()))

    def per_phase(self) -> dict[str, int]:
        return dict(Counter(r.phase for r in self.requests))

    def text(self) -> str:
        return "".join(r.line() + "\n" for r in self.requests)


def _operation(recorder: dict[str, Any], case_id: str, label: str) -> str:
    case = ((recorder.get("cases") or {}).get(case_id) or {}).get("value") or {}
    if isinstance(case, dict) and case.get("method") and case.get("path"):
        return f"{case['method']} {case['path']}"  # the path template, as the spec names it
    return label


def _decode(body: Any) -> bytes | None:
    if isinstance(body, dict) and "$base64" in body:
        try:
            return base64.b64decode(body["$base64"])
        except (ValueError, TypeError):
            return None
    if isinstance(body, str):
        return body.encode("utf-8", "surrogateescape")
    return None


def version_of(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"
