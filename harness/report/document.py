"""The canonical report document: its typed form, its bytes, its JSON Schema, where schemas live.

report.json on disk IS ``canonical_json(report)``, so the detached signature can be checked by
plain OpenSSL over the file itself, without re-serialising.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema

from harness import resources
from harness.errors import PopcertError
from harness.profiles import Verdict
from harness.signing.canonical import canonical_json
from harness.untrusted import MAX_REPORT_DEPTH, cut_deep_json

REPO_ROOT = Path(__file__).resolve().parents[2]
SCHEMA_DIR = resources.schema_dir()
TEMPLATE_DIR = resources.templates_dir()
REPORT_SCHEMA = SCHEMA_DIR / "report.schema.json"
SCHEMA_VERSION = "1.0"


@lru_cache(maxsize=1)
def report_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(REPORT_SCHEMA.read_text(encoding="utf-8"))
    return schema


def schema_errors(report: Any, limit: int = 5) -> list[str]:
    """Human-readable schema violations (``path: message``), empty when the report is valid."""
    validator = jsonschema.Draft202012Validator(report_schema())
    found = sorted(validator.iter_errors(report), key=lambda e: list(e.absolute_path))
    return [f"{_path(e.absolute_path)}: {e.message}" for e in found[:limit]]


def _path(parts: Any) -> str:
    text = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)
    return text.lstrip(".") or "(root)"


# --- the typed document ------------------------------------------------------------------------
# report.json read and written in one place: each entry's to_json and from_json sit side by side,
# and from_json(x).to_json() == x for every document the schema accepts (older reports included:
# optional keys they lack stay absent). Dates and times stay the strings the report holds, so the
# signed bytes never depend on how Python formats a date.

HARNESS_NAME = "popcert"


class ReportFormatError(PopcertError, ValueError):
    """JSON that is not a popcert report.json; ``problems`` name the fields (``path: message``)."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("not a popcert report (report.schema.json): " + "; ".join(problems))


def _present(raw: Mapping[str, Any], optional: tuple[str, ...]) -> frozenset[str]:
    """The optional keys ``raw`` lacks: an older report's, to leave out again when written."""
    return frozenset(key for key in optional if key not in raw)


def _without(entry: dict[str, Any], absent: frozenset[str]) -> dict[str, Any]:
    return {key: value for key, value in entry.items() if key not in absent}


@dataclass(frozen=True)
class HarnessEntry:
    version: str
    name: str = HARNESS_NAME

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> HarnessEntry:
        return cls(version=raw["version"], name=raw["name"])


@dataclass(frozen=True)
class Fingerprints:
    """What the run certified: the firewall ruleset and the source tree (``sha256:...`` or None)."""

    firewall_ruleset: str | None = None
    source_tree: str | None = None
    absent: frozenset[str] = frozenset()

    def to_json(self) -> dict[str, Any]:
        return _without({"firewall_ruleset": self.firewall_ruleset,
                         "source_tree": self.source_tree}, self.absent)

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Fingerprints:
        return cls(raw.get("firewall_ruleset"), raw.get("source_tree"),
                   _present(raw, ("firewall_ruleset", "source_tree")))


@dataclass(frozen=True)
class PhaseEntry:
    """One suite's wall-clock time in the run (``run.phases``): the shared work its factory did
    before the first check (a fuzzing run, the scenarios, a load run, a TLS scan), its checks, and
    its teardown. Each check's ``duration_s`` carries its own time plus an equal share of
    ``setup_s``, so a suite's check durations add up to its setup and checks (docs/reports.md)."""

    suite: str
    setup_s: float
    checks_s: float
    teardown_s: float

    @property
    def duration_s(self) -> float:
        return round(self.setup_s + self.checks_s + self.teardown_s, 3)

    def to_json(self) -> dict[str, Any]:
        return {"suite": self.suite, "setup_s": self.setup_s, "checks_s": self.checks_s,
                "teardown_s": self.teardown_s, "duration_s": self.duration_s}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> PhaseEntry:
        return cls(raw["suite"], raw["setup_s"], raw["checks_s"], raw["teardown_s"])


@dataclass(frozen=True)
class RunEntry:
    """The report's ``run``: when and how it ran, and whether it finished."""

    id: str
    started_at: str
    finished_at: str | None
    complete: bool
    interrupted: str | None
    quick: bool
    seed: int
    command: str
    # None: a report from before these were recorded.
    registered_checks: tuple[str, ...] | None = None
    fingerprints: Fingerprints | None = None
    # None: a report from before these were recorded (issue 21: what a certificate needs).
    mode: str | None = None  # full / quick / demo (harness/report/banner.py)
    load_duration_s: float | None = None
    example_inputs: tuple[str, ...] | None = None
    results_chain: Mapping[str, Any] | None = None  # {count, head}: harness/report/chain.py
    # Wall-clock seconds from the start to this report, and per suite (None: an older report,
    # or one rebuilt from results.jsonl, which holds no phase times).
    duration_s: float | None = None
    phases: tuple[PhaseEntry, ...] | None = None
    absent: frozenset[str] = frozenset()

    def to_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "id": self.id, "started_at": self.started_at, "finished_at": self.finished_at,
            "complete": self.complete, "interrupted": self.interrupted, "quick": self.quick,
            "seed": self.seed, "command": self.command}
        if self.registered_checks is not None:
            entry["registered_checks"] = list(self.registered_checks)
        if self.fingerprints is not None:
            entry["fingerprints"] = self.fingerprints.to_json()
        if self.mode is not None:
            entry["mode"] = self.mode
        if "load_duration_s" not in self.absent:
            entry["load_duration_s"] = self.load_duration_s
        if self.example_inputs is not None:
            entry["example_inputs"] = list(self.example_inputs)
        if self.results_chain is not None:
            entry["results_chain"] = dict(self.results_chain)
        if self.duration_s is not None:
            entry["duration_s"] = self.duration_s
        if self.phases is not None:
            entry["phases"] = [phase.to_json() for phase in self.phases]
        return entry

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> RunEntry:
        registered = raw.get("registered_checks")
        fingerprints = raw.get("fingerprints")
        return cls(raw["id"], raw["started_at"], raw["finished_at"], raw["complete"],
                   raw["interrupted"], raw["quick"], raw["seed"], raw["command"],
                   tuple(registered) if registered is not None else None,
                   Fingerprints.from_json(fingerprints) if fingerprints is not None else None,
                   raw.get("mode"), raw.get("load_duration_s"),
                   tuple(raw["example_inputs"]) if "example_inputs" in raw else None,
                   dict(raw["results_chain"]) if "results_chain" in raw else None,
                   raw.get("duration_s"),
                   tuple(PhaseEntry.from_json(p) for p in raw["phases"]) if "phases" in raw
                   else None,
                   _present(raw, ("load_duration_s",)))


@dataclass(frozen=True)
class SystemEntry:
    """The certified system, as the run config names it."""

    name: str
    organisation: str
    level: str
    base_url: str
    config_file: str | None = None  # relative to the system's repository root, or None
    absent: frozenset[str] = frozenset()
    extra: Mapping[str, Any] = field(default_factory=dict)  # keys the schema allows, unknown here

    def to_json(self) -> dict[str, Any]:
        return {**_without({"name": self.name, "organisation": self.organisation,
                            "level": self.level, "base_url": self.base_url,
                            "config_file": self.config_file}, self.absent), **self.extra}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> SystemEntry:
        known = ("name", "organisation", "level", "base_url", "config_file")
        return cls(raw["name"], raw["organisation"], raw["level"], raw["base_url"],
                   raw.get("config_file"), _present(raw, ("config_file",)),
                   {k: v for k, v in raw.items() if k not in known})


@dataclass(frozen=True)
class ProfileEntry:
    """The certification profile the run was judged by."""

    name: str
    version: str
    title_vi: str
    title_en: str
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "title_vi": self.title_vi,
                "title_en": self.title_en, **self.extra}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> ProfileEntry:
        known = ("name", "version", "title_vi", "title_en")
        return cls(raw["name"], raw["version"], raw["title_vi"], raw["title_en"],
                   {k: v for k, v in raw.items() if k not in known})


@dataclass(frozen=True)
class SpecEntry:
    version: str
    sha256: str

    def to_json(self) -> dict[str, Any]:
        return {"version": self.version, "sha256": self.sha256}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> SpecEntry:
        return cls(raw["version"], raw["sha256"])


@dataclass(frozen=True)
class VerdictEntry:
    """CERTIFIED / NOT CERTIFIED / INCOMPLETE, why, and the mandatory checks that block it."""

    status: str
    reasons: tuple[str, ...] = ()
    blocking: tuple[str, ...] = ()
    # NOT CERTIFIED with no mandatory check failed: these blocking checks were measured while
    # popcert itself was saturated (harness/health.py). Written only when there are some.
    inconclusive: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        # The verdict rule's own JSON (harness/profiles.py), so the two can never drift apart.
        return Verdict(self.status, self.reasons, self.blocking, self.inconclusive).to_json()

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> VerdictEntry:
        return cls(raw["status"], tuple(raw["reasons"]), tuple(raw["blocking"]),
                   tuple(raw.get("inconclusive", ())))


@dataclass(frozen=True)
class Summary:
    by_status: Mapping[str, int]
    by_suite: Mapping[str, Mapping[str, int]]

    def to_json(self) -> dict[str, Any]:
        return {"by_status": dict(self.by_status),
                "by_suite": {suite: dict(counts) for suite, counts in self.by_suite.items()}}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Summary:
        return cls(dict(raw["by_status"]),
                   {suite: dict(counts) for suite, counts in raw["by_suite"].items()})


@dataclass(frozen=True)
class CheckEntry:
    """A check as the report names it (harness.checks.Check without its function)."""

    id: str
    suite: str
    title: str
    severity: str
    requirement: str
    defects: tuple[str, ...] = ()
    # Ids in specs/requirements.yaml; None in a report from before checks named them.
    requirements: tuple[str, ...] | None = None

    def to_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"id": self.id, "suite": self.suite, "title": self.title,
                                 "severity": self.severity, "requirement": self.requirement}
        if self.requirements is not None:
            entry["requirements"] = list(self.requirements)
        entry["defects"] = list(self.defects)
        return entry

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> CheckEntry:
        requirements = raw.get("requirements")
        return cls(raw["id"], raw["suite"], raw["title"], raw["severity"], raw["requirement"],
                   tuple(raw["defects"]),
                   tuple(requirements) if requirements is not None else None)


@dataclass(frozen=True)
class EvidenceEntry:
    """One piece of evidence as recorded: ``data`` is JSON whose shape depends on ``kind``
    (reports/schema: request, response, finding, chart, ...). It came from the SUT: read it as
    hostile, never as markup."""

    kind: str
    title: str
    data: Any

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "title": self.title, "data": self.data}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> EvidenceEntry:
        return cls(raw["kind"], raw["title"], raw["data"])

    @property
    def fields(self) -> Mapping[str, Any]:
        """``data`` when it is an object, else empty: what the per-kind readers look into."""
        return self.data if isinstance(self.data, dict) else {}


@dataclass(frozen=True)
class WaiverEntry:
    """An assessor's waiver of a check, with its validity on the run date."""

    check_id: str
    reason: str
    assessor: str
    approved_on: str
    expires: str
    valid: bool

    def to_json(self) -> dict[str, Any]:
        return {"check_id": self.check_id, "reason": self.reason, "assessor": self.assessor,
                "approved_on": self.approved_on, "expires": self.expires, "valid": self.valid}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> WaiverEntry:
        return cls(raw["check_id"], raw["reason"], raw["assessor"], raw["approved_on"],
                   raw["expires"], raw["valid"])


@dataclass(frozen=True)
class ResultEntry:
    """One check's outcome in the report."""

    check: CheckEntry
    mandatory: bool
    status: str
    summary: str
    evidence: tuple[EvidenceEntry, ...]
    measurements: Mapping[str, float]
    started_at: str
    duration_s: float
    waiver: WaiverEntry | None = None

    @property
    def waived(self) -> bool:
        """A failure under a waiver valid on the run date (the verdict does not count it)."""
        return self.status == "fail" and self.waiver is not None and self.waiver.valid

    def to_json(self) -> dict[str, Any]:
        return {"check": self.check.to_json(), "mandatory": self.mandatory,
                "status": self.status, "summary": self.summary,
                "evidence": [e.to_json() for e in self.evidence],
                "measurements": dict(self.measurements),
                "started_at": self.started_at, "duration_s": self.duration_s,
                "waiver": self.waiver.to_json() if self.waiver is not None else None}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> ResultEntry:
        waiver = raw["waiver"]
        return cls(CheckEntry.from_json(raw["check"]), raw["mandatory"], raw["status"],
                   raw["summary"], tuple(EvidenceEntry.from_json(e) for e in raw["evidence"]),
                   dict(raw["measurements"]), raw["started_at"], raw["duration_s"],
                   WaiverEntry.from_json(waiver) if waiver is not None else None)


@dataclass(frozen=True)
class AttestationEntry:
    """A profile's manual item and the assessor's attestation of it (or its absence)."""

    item_id: str
    title: str
    required: bool
    status: str  # attested / missing / expired
    assessor: str | None
    date: str | None
    statement: str | None
    evidence_refs: tuple[str, ...] = ()
    title_vi: str | None = None
    expires: str | None = None
    absent: frozenset[str] = frozenset()
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {**_without({"item_id": self.item_id, "title": self.title,
                            "title_vi": self.title_vi, "required": self.required,
                            "status": self.status, "assessor": self.assessor, "date": self.date,
                            "expires": self.expires, "statement": self.statement,
                            "evidence_refs": list(self.evidence_refs)}, self.absent),
                **self.extra}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> AttestationEntry:
        known = ("item_id", "title", "title_vi", "required", "status", "assessor", "date",
                 "expires", "statement", "evidence_refs")
        return cls(raw["item_id"], raw["title"], raw["required"], raw["status"], raw["assessor"],
                   raw["date"], raw["statement"], tuple(raw["evidence_refs"]),
                   raw.get("title_vi"), raw.get("expires"), _present(raw, ("title_vi", "expires")),
                   {k: v for k, v in raw.items() if k not in known})


@dataclass(frozen=True)
class ReportDocument:
    """report.json as a typed, frozen object: what renderers, certificates, diff and rederive read.

    Built by ``harness.report_model.build_report`` (pure) or read back by ``from_json``, which
    refuses JSON that breaks reports/schema/report.schema.json with a ReportFormatError naming
    the fields: a report on disk may have been edited by anyone.
    """

    harness: HarnessEntry
    run: RunEntry
    system: SystemEntry
    profile: ProfileEntry
    specs: Mapping[str, SpecEntry]
    verdict: VerdictEntry
    summary: Summary
    results: tuple[ResultEntry, ...]
    attestations: tuple[AttestationEntry, ...]
    schema_version: str = SCHEMA_VERSION
    # A demo or quick run's "not a certification" banner ({en, vi}), None for a full run.
    banner: Mapping[str, str] | None = None

    def to_json(self) -> dict[str, Any]:
        banner = {"banner": dict(self.banner)} if self.banner is not None else {}
        return {**banner,
            "schema_version": self.schema_version,
            "harness": self.harness.to_json(),
            "run": self.run.to_json(),
            "system": self.system.to_json(),
            "profile": self.profile.to_json(),
            "specs": {name: spec.to_json() for name, spec in self.specs.items()},
            "verdict": self.verdict.to_json(),
            "summary": self.summary.to_json(),
            "results": [r.to_json() for r in self.results],
            "attestations": [a.to_json() for a in self.attestations],
        }

    @classmethod
    def from_json(cls, raw: Any) -> ReportDocument:
        """The document ``raw`` (parsed JSON) holds; ReportFormatError when it is not one."""
        if not isinstance(raw, dict):
            raise ReportFormatError([f"(root): a JSON object expected, not {type(raw).__name__}"])
        problems = schema_errors(raw)
        if problems:
            raise ReportFormatError(problems)
        try:
            return cls._from_valid(raw)
        except (KeyError, TypeError, ValueError, AttributeError) as odd:  # the schema let it by
            raise ReportFormatError([f"(root): {type(odd).__name__}: {odd}"]) from None

    @classmethod
    def _from_valid(cls, raw: dict[str, Any]) -> ReportDocument:
        return cls(
            schema_version=raw["schema_version"],
            harness=HarnessEntry.from_json(raw["harness"]),
            run=RunEntry.from_json(raw["run"]),
            system=SystemEntry.from_json(raw["system"]),
            profile=ProfileEntry.from_json(raw["profile"]),
            specs={name: SpecEntry.from_json(spec) for name, spec in raw["specs"].items()},
            verdict=VerdictEntry.from_json(raw["verdict"]),
            summary=Summary.from_json(raw["summary"]),
            results=tuple(ResultEntry.from_json(r) for r in raw["results"]),
            attestations=tuple(AttestationEntry.from_json(a) for a in raw["attestations"]),
            banner=dict(raw["banner"]) if "banner" in raw else None)

    def canonical_bytes(self) -> bytes:
        """report.json's bytes (what the signature covers)."""
        return canonical_json(self.to_json())


def read_report(path: Path) -> ReportDocument:
    """report.json from disk (OSError when unreadable, ReportFormatError when not a report).

    Nesting is cut before parsing: a report handed over by anyone must not exhaust the stack.
    """
    try:
        raw = json.loads(cut_deep_json(path.read_text(encoding="utf-8"), MAX_REPORT_DEPTH))
    except ValueError:  # UnicodeDecodeError included
        raise ReportFormatError(["(root): not UTF-8 JSON"]) from None
    return ReportDocument.from_json(raw)
