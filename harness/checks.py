"""The check model: what a check is, what it returns, and the registry that holds them.

A check is a small function registered with ``@check``; it receives its suite's context and
returns a ``CheckResult``. It never prints, exits or decides the verdict: the engine does that.
"""

from __future__ import annotations

import enum
import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from harness.redact import redact


class Severity(enum.StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"


class Status(enum.StrEnum):
    PASS = "pass"
    FAIL = "fail"
    ERROR = "error"  # the check could not decide
    SKIP = "skip"  # not applicable, with a reason
    MANUAL = "manual"  # needs an assessor's attestation


SUITES = ("conformance", "scenario", "load", "auth", "tls", "firewall", "sast")

# Bodies the SUT sends can be huge or hostile; evidence keeps a bounded, redacted prefix.
MAX_BODY_CHARS = 4000


class EvidenceKind(enum.StrEnum):
    REQUEST = "request"
    RESPONSE = "response"
    MEASUREMENT = "measurement"
    REPRODUCTION = "reproduction"
    FINDING = "finding"  # a located finding: file/line (SAST) or ruleset line (firewall)
    NOTE = "note"
    TRACEBACK = "traceback"
    CHART = "chart"  # a series of points the report draws (load suite)


@dataclass(frozen=True)
class Evidence:
    """One piece of evidence. Redacted at construction so nothing secret is ever stored."""

    kind: EvidenceKind
    title: str
    data: Any = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "data", redact(self.data))
        object.__setattr__(self, "title", redact(self.title))

    def to_json(self) -> dict[str, Any]:
        return {"kind": str(self.kind), "title": self.title, "data": self.data}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Evidence:
        return cls(EvidenceKind(raw["kind"]), raw.get("title", ""), raw.get("data"))

    # Constructors for the common shapes, so every suite writes evidence the same way.
    @classmethod
    def request(cls, method: str, url: str, headers: dict[str, str] | None = None,
                body: Any = None, title: str = "request") -> Evidence:
        return cls(EvidenceKind.REQUEST, title, {
            "method": method.upper(), "url": url, "headers": dict(headers or {}),
            "body": _clip(body)})

    @classmethod
    def response(cls, status: int | None, headers: dict[str, str] | None = None,
                 body: Any = None, elapsed_ms: float | None = None,
                 title: str = "response") -> Evidence:
        return cls(EvidenceKind.RESPONSE, title, {
            "status": status, "headers": dict(headers or {}), "body": _clip(body),
            "elapsed_ms": elapsed_ms})

    @classmethod
    def measurement(cls, name: str, value: float | int | str | None, unit: str = "",
                    limit: float | int | str | None = None, title: str | None = None) -> Evidence:
        return cls(EvidenceKind.MEASUREMENT, title or name,
                   {"name": name, "value": value, "unit": unit, "limit": limit})

    @classmethod
    def reproduction(cls, command: str, title: str = "reproduce with") -> Evidence:
        return cls(EvidenceKind.REPRODUCTION, title, {"command": command})

    @classmethod
    def finding(cls, location: str, line: int | None, rule: str, message: str,
                title: str | None = None, **extra: Any) -> Evidence:
        return cls(EvidenceKind.FINDING, title or rule, {
            "location": location, "line": line, "rule": rule, "message": message, **extra})

    @classmethod
    def note(cls, text: str, title: str = "note") -> Evidence:
        return cls(EvidenceKind.NOTE, title, {"text": text})

    @classmethod
    def chart(cls, title: str, series: dict[str, list[tuple[float, float]]],
              x_label: str = "", y_label: str = "") -> Evidence:
        return cls(EvidenceKind.CHART, title, {
            "series": {k: [list(p) for p in v] for k, v in series.items()},
            "x_label": x_label, "y_label": y_label})


def _clip(body: Any) -> Any:
    if isinstance(body, bytes):
        body = body.decode("utf-8", errors="replace")
    if isinstance(body, str) and len(body) > MAX_BODY_CHARS:
        return body[:MAX_BODY_CHARS] + f"... [{len(body) - MAX_BODY_CHARS} more characters cut]"
    return body


@dataclass(frozen=True)
class CheckResult:
    """What a check decided, and why. The engine attaches the check's identity and timing."""

    status: Status
    summary: str
    evidence: tuple[Evidence, ...] = ()
    measurements: dict[str, float] = field(default_factory=dict)

    @classmethod
    def passed(cls, summary: str, *evidence: Evidence, **measurements: float) -> CheckResult:
        return cls(Status.PASS, summary, evidence, measurements)

    @classmethod
    def failed(cls, summary: str, *evidence: Evidence, **measurements: float) -> CheckResult:
        return cls(Status.FAIL, summary, evidence, measurements)

    @classmethod
    def errored(cls, summary: str, *evidence: Evidence) -> CheckResult:
        return cls(Status.ERROR, summary, evidence)

    @classmethod
    def skipped(cls, reason: str, *evidence: Evidence) -> CheckResult:
        return cls(Status.SKIP, reason, evidence)

    @classmethod
    def manual(cls, summary: str, *evidence: Evidence) -> CheckResult:
        return cls(Status.MANUAL, summary, evidence)


CheckFunction = Callable[[Any], CheckResult]


@dataclass(frozen=True)
class Check:
    """A registered check: its identity, what it enforces, and the defect switch that breaks it."""

    id: str
    suite: str
    title: str
    severity: Severity
    requirement: str
    function: CheckFunction
    # Switches of examples/city_system that make exactly this check fail (the detection matrix).
    defects: tuple[str, ...] = ()
    timeout_s: float = 120.0

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "suite": self.suite, "title": self.title,
                "severity": str(self.severity), "requirement": self.requirement,
                "defects": list(self.defects)}


REGISTRY: dict[str, Check] = {}


def check(check_id: str, *, suite: str, severity: Severity, requirement: str,
          title: str | None = None, defect: str | Iterable[str] | None = None,
          timeout_s: float = 120.0) -> Callable[[CheckFunction], CheckFunction]:
    """Register a check. The title defaults to the first line of the function's docstring."""
    if suite not in SUITES:
        raise ValueError(f"{check_id}: unknown suite {suite!r}; expected one of {SUITES}")
    defects = (defect,) if isinstance(defect, str) else tuple(defect or ())

    def register(function: CheckFunction) -> CheckFunction:
        doc = inspect.getdoc(function) or ""
        resolved_title = title or (doc.splitlines()[0].strip() if doc else function.__name__)
        existing = REGISTRY.get(check_id)
        if existing is not None and existing.function.__qualname__ != function.__qualname__:
            raise ValueError(f"check id {check_id} registered twice")
        REGISTRY[check_id] = Check(check_id, suite, resolved_title, severity, requirement,
                                   function, defects, timeout_s)
        return function

    return register


def checks_for_suite(suite: str) -> list[Check]:
    return [c for c in REGISTRY.values() if c.suite == suite]
