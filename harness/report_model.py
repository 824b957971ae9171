"""Building the report document: recorded results + run facts + verdict, as one dict.

Renderers (harness/report) read only this dict. Its bytes, its JSON Schema and SCHEMA_VERSION
belong to harness/report/document.py.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from harness.assessor import (
    Attestation,
    Waiver,
    attestation_entries,
    expired_attestations,
    load_attestations,
    load_waivers,
    waiver_for,
)
from harness.certificate.fingerprints import run_fingerprints
from harness.checks import Check, CheckResult
from harness.config import RunConfig
from harness.profiles import Profile, decide
from harness.report.document import SCHEMA_VERSION
from harness.report.specs import current_specs, harness_version


@dataclass(frozen=True)
class RecordedResult:
    check: Check
    result: CheckResult
    mandatory: bool
    started_at: str
    duration_s: float

    def to_json(self) -> dict[str, Any]:
        return {"check": self.check.to_json(), "mandatory": self.mandatory,
                "status": str(self.result.status), "summary": self.result.summary,
                "evidence": [e.to_json() for e in self.result.evidence],
                "measurements": dict(self.result.measurements),
                "started_at": self.started_at, "duration_s": self.duration_s}


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


def _locate_findings(entry: dict[str, Any], config: RunConfig, root: Path) -> None:
    """Give each file finding ``repo_path``: where it is in the certified system's repository.

    SAST locations are relative to source.path, firewall ones are the ruleset's path; TLS and
    URL findings name no file. SARIF points only at these paths, never at the assessor's disk.
    """
    base = config.source.path if entry["check"]["suite"] == "sast" and config.source else None
    for evidence in entry["evidence"]:
        data = evidence.get("data")
        if evidence.get("kind") != "finding" or not isinstance(data, dict):
            continue
        location = str(data.get("location") or "")
        if not location or "://" in location or (not location.startswith(("/", ".")) and base is None
                                                 and not (root / location).is_file()):
            continue
        found = repository_path(base / location if base else location, root)
        if found is not None:
            evidence["data"] = {**data, "repo_path": found}


def assessor_inputs(config: RunConfig) -> tuple[list[Waiver], list[Attestation]]:
    waivers = load_waivers(config.assessor.waivers) if config.assessor.waivers else []
    attestations = (load_attestations(config.assessor.attestations)
                    if config.assessor.attestations else [])
    return waivers, attestations


def build_report(config: RunConfig, profile: Profile, records: list[RecordedResult],
                 registered: list[str], *,
                 complete: bool, interrupted: str | None, started: datetime, today: date,
                 run_id: str, command: str = "",
                 assessor: tuple[list[Waiver], list[Attestation]] | None = None) -> dict[str, Any]:
    waivers, attestations = assessor if assessor is not None else assessor_inputs(config)
    results = []
    root = Path.cwd()  # CI runs popcert at the root of the certified system's repository
    for record in records:
        entry = record.to_json()
        _locate_findings(entry, config, root)
        waiver = waiver_for(record.check.id, waivers, today)
        entry["waiver"] = waiver.to_report(today) if waiver else None
        results.append(entry)
    attested = {a.item_id for a in attestations if a.valid_on(today)}
    statuses = {r.check.id: str(r.result.status) for r in records}
    verdict = decide(profile, statuses, registered, complete, waivers, attested, today,
                     expired=expired_attestations(attestations, today),
                     summaries={r.check.id: r.result.summary for r in records})
    by_suite: dict[str, Counter[str]] = defaultdict(Counter)
    for record in records:
        by_suite[record.check.suite][str(record.result.status)] += 1
    return {
        "schema_version": SCHEMA_VERSION,
        "harness": {"name": "popcert", "version": harness_version()},
        "run": {"id": run_id, "started_at": started.isoformat(timespec="seconds"),
                "finished_at": datetime.now(UTC).isoformat(timespec="seconds") if complete
                else None,
                "complete": complete, "interrupted": interrupted, "quick": config.quick,
                "seed": config.seed, "command": command,
                "registered_checks": list(registered),
                "fingerprints": run_fingerprints(
                    config.firewall.ruleset if config.firewall else None,
                    config.source.path if config.source else None)},
        "system": {"name": config.system.name, "organisation": config.system.organisation,
                   "level": config.system.level, "base_url": config.target.base_url,
                   "config_file": repository_path(config.source_file, root)},
        "profile": {"name": profile.name, "version": profile.version,
                    "title_vi": profile.title_vi, "title_en": profile.title_en},
        "specs": current_specs(),
        "verdict": verdict.to_json(),
        "summary": {"by_status": dict(Counter(statuses.values())),
                    "by_suite": {s: dict(c) for s, c in sorted(by_suite.items())}},
        "results": results,
        "attestations": attestation_entries(profile.attestations, attestations, today),
    }
