"""The check model: what a check is and what it returns.

A check is a small function marked with ``@check``; it receives its suite's context and returns a
``CheckResult``. It never prints, exits or decides the verdict: the engine does that. Which checks
a run has, in what order and in which suite, is the registry's business (harness/registry.py):
each suite lists its checks in its ``SUITE`` declaration, which stamps its name on them.
"""

from __future__ import annotations

import enum
import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from harness.redact import redact, redact_command


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
class ShellVariable:
    """What a reproduction command names as ``$NAME`` instead of writing it: a genuine credential
    (a token of the national token service) or a file on the assessor's disk (a CA bundle, a
    client certificate and key). ``get`` is a shell command printing a value from the mock NPDB."""

    name: str
    meaning: str
    get: str

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "meaning": self.meaning, "get": self.get}

    def setup_line(self) -> str:
        return f'export {self.name}="$({self.get})"'


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
    def measurement(cls, name: str, value: float | str | None, unit: str = "",
                    limit: float | str | None = None, title: str | None = None) -> Evidence:
        return cls(EvidenceKind.MEASUREMENT, title or name,
                   {"name": name, "value": value, "unit": unit, "limit": limit})

    @classmethod
    def reproduction(cls, command: str, title: str = "reproduce with", *,
                     variables: Iterable[ShellVariable] = (), shown: Iterable[str] = ()
                     ) -> Evidence:
        """A runnable command; ``variables`` are the ``$NAME``s it uses and how to get each.

        ``shown`` are values that are not secrets although they look like ones: forged or
        tampered tokens and signatures, written as sent so the command sends what was accepted.
        Everything else in the command is redacted as usual.
        """
        data: dict[str, Any] = {"command": command}
        named = [v.to_json() for v in variables if f"${v.name}" in command]
        if named:
            data["variables"] = named
        evidence = cls(EvidenceKind.REPRODUCTION, title, data)
        public = tuple(value for value in shown if value)
        if public:
            object.__setattr__(evidence, "data", {**evidence.data, "command": redact_command(
                command, shown=public)})
        return evidence

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



class SuiteUnavailable(Exception):
    """Raised by a suite's context factory when the suite cannot start (no ruleset, the TLS
    endpoint does not answer, the source folder is missing...). The engine records `error` with
    this summary and evidence on every check of the suite, so no check needs a guard."""

    def __init__(self, summary: str, *evidence: Evidence) -> None:
        super().__init__(summary)
        self.summary = summary
        self.evidence = evidence


# What a check receives: its suite's context (harness/registry.py: Suite[Ctx]).
Ctx = TypeVar("Ctx")

# A check of a suite whose context is ``Ctx``: ``CheckFunction[AuthContext]``. Bare
# ``CheckFunction`` is a check of any context (the engine and the registry hold those).
CheckFunction = Callable[[Ctx], CheckResult]


@dataclass(frozen=True)
class Check:
    """A registered check: its identity, what it enforces, and the defect switch that breaks it."""

    id: str
    suite: str  # stamped by the suite that lists it (Suite.registered)
    title: str
    severity: Severity
    requirement: str  # the requirement in words (from the catalogue when ids are given)
    function: CheckFunction[Any]
    # Switches of examples/city_system that make exactly this check fail (the detection matrix).
    defects: tuple[str, ...] = ()
    timeout_s: float = 120.0
    # Ids in specs/requirements.yaml: what this check enforces, where the rule is written.
    requirements: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "suite": self.suite, "title": self.title,
                "severity": str(self.severity), "requirement": self.requirement,
                "requirements": list(self.requirements), "defects": list(self.defects)}


@dataclass(frozen=True)
class CheckMark:
    """What ``@check`` writes on a function: a Check but for its suite, which the suite's
    declaration stamps (``in_suite``), so the name is written once per suite, not per check."""

    id: str
    title: str
    severity: Severity
    requirement: str
    function: CheckFunction[Any]
    defects: tuple[str, ...] = ()
    timeout_s: float = 120.0
    requirements: tuple[str, ...] = ()

    def in_suite(self, suite: str) -> Check:
        return Check(self.id, suite, self.title, self.severity, self.requirement, self.function,
                     self.defects, self.timeout_s, self.requirements)


def check(check_id: str, *, severity: Severity, requirement: str = "",
          requirements: Iterable[str] = (), title: str | None = None,
          defect: str | Iterable[str] | None = None, timeout_s: float = 120.0,
          ) -> Callable[[CheckFunction[Ctx]], CheckFunction[Ctx]]:
    """Mark a function as a check. The title is ``title=`` or else the docstring's first
    paragraph (all its lines: a title is one whole sentence, never a wrapped line's start; its
    Vietnamese text is in harness/report/catalogue_vi.yaml); the requirement text, when not
    given, is read from the requirements catalogue. The suite is the one whose ``SUITE``
    declaration lists the function."""
    if not requirement and not requirements:
        raise ValueError(f"{check_id}: name the requirement ids it enforces (requirements=[...])")
    defects = (defect,) if isinstance(defect, str) else tuple(defect or ())
    ids = tuple(requirements)

    def register(function: CheckFunction[Ctx]) -> CheckFunction[Ctx]:
        doc = inspect.getdoc(function) or ""
        resolved_title = title or (" ".join(doc.split("\n\n")[0].split()) if doc
                                   else function.__name__)
        function.__popcert_check__ = CheckMark(  # type: ignore[attr-defined]
            check_id, resolved_title, severity, requirement or _requirement_text(ids), function,
            defects, timeout_s, ids)
        return function

    return register


def check_of(function: CheckFunction[Any]) -> CheckMark:
    """What a ``@check`` function carries (its suite is stamped by the declaration listing it)."""
    made = getattr(function, "__popcert_check__", None)
    if not isinstance(made, CheckMark):
        raise TypeError(f"{getattr(function, '__qualname__', function)!r} is not marked @check")
    return made


def _requirement_text(ids: tuple[str, ...]) -> str:
    from harness.requirements import load_catalogue  # the catalogue imports nothing of ours

    catalogue = load_catalogue()
    return "; ".join(entry.text.en if (entry := catalogue.get(i)) else i for i in ids)
