"""Building the report document: run facts + recorded results + how the run ended.

``gather_run_facts`` does the I/O once, at run start (working directory, spec hashes,
fingerprints, versions, waivers and attestations); ``locate_findings`` once per result; then
``build_report(facts, records, end)`` is pure and gives the typed ReportDocument that renderers
read. Its JSON, schema and SCHEMA_VERSION belong to harness/report/document.py.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

from harness.assessor import (
    Attestation,
    Waiver,
    attestation_entries,
    expired_attestations,
    is_example_file,
    load_attestations,
    load_waivers,
    waiver_for,
)
from harness.certificate.fingerprints import run_fingerprints
from harness.checks import Check, CheckResult, Evidence, Severity, Status
from harness.config import RunConfig
from harness.profiles import Profile, decide
from harness.registry import Registry
from harness.report.banner import banner_for, run_mode
from harness.report.chain import chain_of, result_core
from harness.report.document import (
    AttestationEntry,
    CheckEntry,
    EvidenceEntry,
    Fingerprints,
    HarnessEntry,
    PhaseEntry,
    ProfileEntry,
    ReportDocument,
    ResultEntry,
    RunEntry,
    SpecEntry,
    Summary,
    SystemEntry,
    VerdictEntry,
    WaiverEntry,
)
from harness.report.specs import current_specs, harness_version


@dataclass(frozen=True)
class RecordedResult:
    """A check's result as the engine recorded it: one line of results.jsonl."""

    check: Check
    result: CheckResult
    mandatory: bool
    started_at: str
    duration_s: float
    # Per evidence item: where a finding lies in the system's repository (locate_findings), or
    # None. Not in results.jsonl: the report is where findings get their repository paths.
    repo_paths: tuple[str | None, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"check": self.check.to_json(), "mandatory": self.mandatory,
                "status": str(self.result.status), "summary": self.result.summary,
                "evidence": [e.to_json() for e in self.result.evidence],
                "measurements": dict(self.result.measurements),
                "started_at": self.started_at, "duration_s": self.duration_s}

    @classmethod
    def from_json(cls, raw: dict[str, Any], registry: Registry) -> RecordedResult:
        """A results.jsonl line; a check this registry lacks comes back as a stub that cannot run.

        Raises KeyError, TypeError or ValueError for a line that is not a result (e.g. the one
        being written when the process died).
        """
        meta = raw["check"]
        check = registry.get(meta["id"]) or Check(
            meta["id"], meta["suite"], meta["title"], Severity(meta["severity"]),
            meta["requirement"], lambda ctx: CheckResult.errored("not re-runnable"),
            tuple(meta.get("defects", ())))
        result = CheckResult(Status(raw["status"]), raw["summary"],
                             tuple(Evidence.from_json(e) for e in raw.get("evidence", [])),
                             dict(raw.get("measurements", {})))
        return cls(check, result, bool(raw["mandatory"]), raw["started_at"],
                   float(raw["duration_s"]))


@dataclass(frozen=True)
class RunFacts:
    """What the report says about a run that is known before its first check, gathered once."""

    run_id: str
    started: datetime
    command: str
    quick: bool
    seed: int
    registered: tuple[str, ...]
    fingerprints: Fingerprints
    system: SystemEntry
    profile: Profile
    specs: Mapping[str, SpecEntry]
    harness_version: str
    today: date  # the day waivers and attestations are judged on
    waivers: tuple[Waiver, ...]
    attestations: tuple[Attestation, ...]
    root: Path  # the system's repository root: where popcert runs (as in CI)
    source_path: Path | None  # config.source.path: SAST finding locations are relative to it
    mode: str = "full"  # full / quick / demo (harness/report/banner.py)
    load_duration_s: float | None = None  # None: the load suite is not selected
    example_inputs: tuple[str, ...] = ()  # assessor files marked as popcert's shipped examples


@dataclass(frozen=True)
class RunEnd:
    """How far the run got when the report is written."""

    complete: bool
    interrupted: str | None = None
    finished_at: datetime | None = None  # written only for a complete run
    # Wall-clock seconds so far and each suite's phase times (the engine's; None when rebuilt).
    duration_s: float | None = None
    phases: tuple[PhaseEntry, ...] | None = None


def assessor_inputs(config: RunConfig) -> tuple[list[Waiver], list[Attestation]]:
    waivers = load_waivers(config.assessor.waivers) if config.assessor.waivers else []
    attestations = (load_attestations(config.assessor.attestations)
                    if config.assessor.attestations else [])
    return waivers, attestations


def gather_run_facts(config: RunConfig, profile: Profile, registered: Sequence[str], *,
                     run_id: str, started: datetime, today: date, command: str = "",
                     assessor: tuple[list[Waiver], list[Attestation]] | None = None,
                     root: Path | None = None, demo: bool = False) -> RunFacts:
    """The run's facts, read from disk once (the only I/O of building a report).

    ``demo``: the run certifies the bundled reference system (`popcert demo`), never a vendor's.
    """
    waivers, attestations = assessor if assessor is not None else assessor_inputs(config)
    root = root or Path.cwd()  # CI runs popcert at the root of the certified system's repository
    fingerprints = run_fingerprints(config.firewall.ruleset if config.firewall else None,
                                    config.source.path if config.source else None)
    return RunFacts(
        run_id=run_id, started=started, command=command, quick=config.quick, seed=config.seed,
        registered=tuple(registered), fingerprints=Fingerprints.from_json(fingerprints),
        system=SystemEntry(config.system.name, config.system.organisation, config.system.level,
                           config.target.base_url, repository_path(config.source_file, root)),
        profile=profile,
        specs={name: SpecEntry.from_json(spec) for name, spec in current_specs().items()},
        harness_version=harness_version(), today=today, waivers=tuple(waivers),
        attestations=tuple(attestations), root=root,
        source_path=config.source.path if config.source else None,
        mode=run_mode(quick=config.quick, demo=demo),
        load_duration_s=load_duration_s(config, profile), example_inputs=example_inputs(config))


def load_duration_s(config: RunConfig, profile: Profile) -> float | None:
    """How long the load test runs (profile, --quick, run.yaml load:), None when not selected."""
    if "load" not in config.suites:
        return None
    from pydantic import ValidationError

    from harness.suites.load.thresholds import resolve_thresholds

    try:
        return float(resolve_thresholds(profile.thresholds.get("load"), quick=config.quick,
                                        users=config.load.users, duration_s=config.load.duration_s,
                                        target_rps=config.load.target_rps).duration_s)
    except (ValidationError, TypeError, ValueError):
        return None  # the load suite reports the bad thresholds (every LOAD check `error`)


def example_inputs(config: RunConfig) -> tuple[str, ...]:
    """Which assessor inputs come from a file marked as popcert's shipped example."""
    found = []
    for name, path in (("waivers", config.assessor.waivers),
                       ("attestations", config.assessor.attestations)):
        if path and is_example_file(path):
            found.append(name)
    return tuple(found)


def repository_path(path: Path | str | None, root: Path) -> str | None:
    """``path`` relative to the repository root (POSIX), or None when it lies outside it."""
    if path is None or not str(path):
        return None
    candidate = Path(path) if Path(path).is_absolute() else root / path
    try:
        relative = candidate.resolve().relative_to(root.resolve())
    except (ValueError, OSError, RuntimeError):
        return None
    return relative.as_posix() if relative.parts else None


def locate_findings(record: RecordedResult, facts: RunFacts) -> RecordedResult:
    """The record with ``repo_paths``: where each file finding is in the system's repository.

    SAST locations are relative to source.path, firewall ones are the ruleset's path; TLS and
    URL findings name no file. SARIF points only at these paths, never at the assessor's disk.
    """
    base = facts.source_path if record.check.suite == "sast" else None
    paths: list[str | None] = []
    for evidence in record.result.evidence:
        data, found = evidence.data, None
        location = str(data.get("location") or "") if isinstance(data, dict) else ""
        try:
            if evidence.kind == "finding" and location and "://" not in location and (
                    location.startswith(("/", ".")) or base is not None
                    or (facts.root / location).is_file()):
                found = repository_path(base / location if base else location, facts.root)
        except (OSError, ValueError):  # a hostile name (too long, NUL): not a file of the repo
            found = None
        paths.append(found)
    return replace(record, repo_paths=tuple(paths)) if any(paths) else record


def _evidence(record: RecordedResult) -> tuple[EvidenceEntry, ...]:
    entries = []
    for index, evidence in enumerate(record.result.evidence):
        data = evidence.data
        found = record.repo_paths[index] if index < len(record.repo_paths) else None
        if found is not None and isinstance(data, dict):
            data = {**data, "repo_path": found}
        entries.append(EvidenceEntry(str(evidence.kind), evidence.title, data))
    return tuple(entries)


def result_entry(record: RecordedResult, waiver: WaiverEntry | None) -> ResultEntry:
    check = record.check
    return ResultEntry(
        CheckEntry(check.id, check.suite, check.title, str(check.severity), check.requirement,
                   tuple(check.defects), tuple(check.requirements)),
        record.mandatory, str(record.result.status), record.result.summary, _evidence(record),
        dict(record.result.measurements), record.started_at, record.duration_s, waiver)


def build_report(facts: RunFacts, records: Sequence[RecordedResult],
                 end: RunEnd) -> ReportDocument:
    """The report document: no clock, no disk, no working directory (all of it is in facts)."""
    today, waivers = facts.today, list(facts.waivers)
    results = []
    for record in records:
        waiver = waiver_for(record.check.id, waivers, today)
        results.append(result_entry(
            record, WaiverEntry.from_json(waiver.to_report(today)) if waiver else None))
    attested = {a.item_id for a in facts.attestations if a.valid_on(today)}
    statuses = {r.check.id: str(r.result.status) for r in records}
    verdict = decide(facts.profile, statuses, list(facts.registered), end.complete, waivers,
                     attested, today,
                     expired=expired_attestations(list(facts.attestations), today),
                     summaries={r.check.id: r.result.summary for r in records})
    by_suite: dict[str, Counter[str]] = defaultdict(Counter)
    for record in records:
        by_suite[record.check.suite][str(record.result.status)] += 1
    profile = facts.profile
    return ReportDocument(
        harness=HarnessEntry(facts.harness_version),
        run=RunEntry(
            id=facts.run_id, started_at=facts.started.isoformat(timespec="seconds"),
            finished_at=(end.finished_at.isoformat(timespec="seconds")
                         if end.complete and end.finished_at else None),
            complete=end.complete, interrupted=end.interrupted, quick=facts.quick,
            seed=facts.seed, command=facts.command, registered_checks=facts.registered,
            fingerprints=facts.fingerprints, mode=facts.mode,
            load_duration_s=facts.load_duration_s, example_inputs=facts.example_inputs,
            results_chain=chain_of(record_core(r) for r in records).to_json(),
            duration_s=end.duration_s, phases=end.phases),
        system=facts.system,
        profile=ProfileEntry(profile.name, profile.version, profile.title_vi, profile.title_en),
        specs=facts.specs,
        verdict=VerdictEntry(verdict.status, verdict.reasons, verdict.blocking,
                             verdict.inconclusive),
        summary=Summary(dict(Counter(statuses.values())),
                        {s: dict(c) for s, c in sorted(by_suite.items())}),
        results=tuple(results),
        attestations=tuple(AttestationEntry.from_json(entry) for entry in attestation_entries(
            profile.attestations, list(facts.attestations), today)),
        banner=banner_for(facts.mode, facts.quick))


def record_core(record: RecordedResult) -> dict[str, Any]:
    """What the results' digest chain covers of a recorded result (harness/report/chain.py)."""
    return result_core(record.check.id, record.mandatory, str(record.result.status),
                       record.result.summary, record.result.measurements, record.started_at,
                       record.duration_s)
