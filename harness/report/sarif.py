"""SARIF 2.1.0 from the canonical report, for code-scanning dashboards (GitHub upload-sarif).

One rule per check; one result per failing check (fail or error), or one per FINDING evidence
when the check located its findings in a file of the certified system's repository (SAST
file/line, firewall ruleset line). Those URIs are relative to that repository (uriBaseId
%SRCROOT%): never a path on the assessor's disk, never one of popcert's own files. A result
without a file of its own points at the run config (system.config_file), which names the SUT.
A failure under a valid waiver carries an accepted external suppression.

Requirement ids (specs/requirements.yaml) are on each rule (properties.requirements, helpUri of an
outside source) and each result; where a rule is written in popcert's own specs, the result's
relatedLocations point at that line under a base of its own (POPCERTSPECS, never %SRCROOT%), and a
result with no location in the system's repository at all uses it as its location.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Any

from harness.errors import ConfigError
from harness.report.document import CheckEntry, ReportDocument, ResultEntry
from harness.requirements import REQUIREMENT_ID, Catalogue, Requirement, load_catalogue
from harness.untrusted import strip_control

SARIF_SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
SRCROOT = "%SRCROOT%"
# popcert's shipped specs/ and scenarios/ (of tool.driver.version), where requirements are written.
SPECS_BASE = "POPCERTSPECS"
LEVELS = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
# GitHub ranks security alerts by this property (0.0-10.0, CVSS-like bands).
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0", "info": "0.0"}
FINGERPRINT_KEY = "popcert/v1"
# GitHub code scanning accepts at most 25,000 results per run and shows up to 10 locations.
MAX_RESULTS = 25_000
_HOST_PORT = re.compile(r"^[\w.-]+:\d+$|^\[[0-9a-fA-F:]+\]:\d+$")


def repository_uri(path: Any) -> str | None:
    """``path`` as a repository-relative URI, or None when it is not one (absolute, .., URL)."""
    text = str(path or "").replace("\\", "/")
    if not text or strip_control(text) != text or "://" in text or text.startswith(("/", "~")) \
            or _HOST_PORT.match(text) \
            or re.match(r"^[A-Za-z]:", text):
        return None
    parts = PurePosixPath(text).parts
    if ".." in parts:
        return None
    clean = "/".join(p for p in parts if p != ".")
    return clean or None


def _catalogue() -> Catalogue | None:
    try:
        return load_catalogue()
    except ConfigError:  # a broken catalogue fails its own tests; the report still renders
        return None


def requirement_ids(check: CheckEntry) -> list[str]:
    """The requirement ids a report's check names (none for a check declared with prose only)."""
    return [i for i in check.requirements or () if isinstance(i, str) and re.match(REQUIREMENT_ID, i)]


def _requirements(check: CheckEntry, catalogue: Catalogue | None) -> list[Requirement]:
    found = (catalogue.get(i) if catalogue else None for i in requirement_ids(check))
    return [r for r in found if r is not None]


def _rule(result: ResultEntry, catalogue: Catalogue | None) -> dict[str, Any]:
    check = result.check
    ids = requirement_ids(check)
    known = _requirements(check, catalogue)
    help_text = f"{check.title}. Requirement: {check.requirement}"
    if known:
        help_text += "\nRequirements:\n" + "\n".join(
            f"- {r.id}: {r.text.en} ({r.source.reference()})" for r in known)
    rule: dict[str, Any] = {
        "id": check.id,
        "name": "".join(part.capitalize() for part in check.id.split("-")),
        "shortDescription": {"text": check.title},
        "fullDescription": {"text": check.requirement},
        "help": {"text": help_text},
        "defaultConfiguration": {"level": LEVELS.get(check.severity, "warning")},
        "properties": {"tags": ["security", "popcert", check.suite],
                       "security-severity": SECURITY_SEVERITY.get(check.severity, "5.0"),
                       "severity": check.severity},
    }
    if ids:
        rule["properties"]["requirements"] = ids
        rule["properties"]["requirementSources"] = {r.id: r.source.reference() for r in known}
    outside = next((r.source.url for r in known if r.source.url), None)
    if outside:
        rule["helpUri"] = outside
    return rule


def _spec_locations(check: CheckEntry, catalogue: Catalogue | None) -> list[dict[str, Any]]:
    """Where the check's requirements are written in popcert's own specs (not the SUT's repo)."""
    return [{"id": index,
             "physicalLocation": {"artifactLocation": {"uri": r.source.document,
                                                       "uriBaseId": SPECS_BASE},
                                  "region": {"startLine": r.source.line}},
             "message": {"text": f"{r.id}: {r.text.en}"}}
            for index, r in enumerate(
                (r for r in _requirements(check, catalogue) if r.source.in_repository), start=1)]


def _location(uri: str, line: Any) -> dict[str, Any]:
    # GitHub needs a region with startLine on every location; a file-level finding is line 1.
    start = line if isinstance(line, int) and not isinstance(line, bool) and line >= 1 else 1
    return {"physicalLocation": {"artifactLocation": {"uri": uri, "uriBaseId": SRCROOT},
                                 "region": {"startLine": start}}}


def _fingerprint(*parts: Any) -> str:
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8")).hexdigest()


def _results_for(result: ResultEntry, rule_index: int, config_uri: str | None,
                 target: str, catalogue: Catalogue | None) -> list[dict[str, Any]]:
    check = result.check
    level = LEVELS.get(check.severity, "warning") if result.status == "fail" else "warning"
    prefix = "" if result.status == "fail" else "could not decide: "
    base: dict[str, Any] = {"ruleId": check.id, "ruleIndex": rule_index, "kind": "fail", "level": level,
                            "properties": {"mandatory": result.mandatory, "status": result.status}}
    ids = requirement_ids(check)
    if ids:
        base["properties"]["requirements"] = ids
    related = _spec_locations(check, catalogue)
    if related:
        base["relatedLocations"] = related
    waiver = result.waiver
    if waiver is not None and waiver.valid:
        base["suppressions"] = [{"kind": "external", "status": "accepted",
                                 "justification": f"{waiver.reason} ({waiver.assessor}, "
                                                  f"until {waiver.expires})"}]
    reproductions = [e.fields for e in result.evidence
                     if e.kind == "reproduction" and isinstance(e.data, dict)]
    if reproductions:
        # Path-free: files and genuine credentials are shell variables, each with how to get it.
        base["properties"]["reproduce"] = reproductions[0].get("command")
        variables = [v for v in reproductions[0].get("variables") or () if isinstance(v, dict)]
        if variables:
            base["properties"]["reproduceVariables"] = {
                str(v.get("name")): str(v.get("get") or v.get("meaning") or "") for v in variables}
    entries = []
    located = []
    for finding in (e for e in result.evidence if e.kind == "finding"):
        data = finding.fields
        uri = repository_uri(data.get("repo_path") or data.get("location"))
        if uri is not None:
            located.append((uri, data))
    for uri, data in located:
        line = data.get("line")
        # SAST findings carry a fingerprint that survives line moves; others hash what they are.
        stable = data.get("fingerprint") or _fingerprint(check.id, data.get("rule"), uri, line)
        entries.append({**base,
                        "message": {"text": strip_control(
                            f"{prefix}{data.get('message') or result.summary} [{data.get('rule')}]")},
                        "locations": [_location(uri, line)],
                        "partialFingerprints": {FINGERPRINT_KEY: str(stable)}})
    if not entries:
        entry = {**base, "message": {"text": strip_control(f"{prefix}{target}: {result.summary}")},
                 "partialFingerprints": {FINGERPRINT_KEY: _fingerprint(check.id, target)}}
        if config_uri is not None:
            entry["locations"] = [_location(config_uri, None)]
        elif related:
            # Nothing in the system's repository: the line of popcert's spec the check enforces.
            entry["locations"] = [{k: v for k, v in related[0].items() if k != "id"}]
        entries.append(entry)
    return entries


def _utc(timestamp: str) -> str:
    """SARIF times are UTC with a Z (SARIF 2.1.0 §3.9)."""
    try:
        moment = datetime.fromisoformat(timestamp)
    except ValueError:
        return timestamp
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def render_sarif(report: ReportDocument) -> dict[str, Any]:
    ordered = sorted(report.results, key=lambda r: r.check.id)
    catalogue = _catalogue()
    rules = [_rule(r, catalogue) for r in ordered]
    index = {rule["id"]: i for i, rule in enumerate(rules)}
    system = report.system
    config_uri = repository_uri(system.config_file)
    results = [entry for r in ordered if r.status in ("fail", "error")
               for entry in _results_for(r, index[r.check.id], config_uri,
                                         str(system.base_url or system.name), catalogue)]
    run, version = report.run, report.harness.version
    return {
        "$schema": SARIF_SCHEMA_URI,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "popcert", "version": version,
                                "semanticVersion": version,
                                "informationUri": "https://popcert.invalid/docs/reports",
                                "rules": rules}},
            "automationDetails": {"id": f"popcert/{report.profile.name}/{run.id}"},
            "originalUriBaseIds": {
                SRCROOT: {"description": {
                    "text": "the root of the certified system's repository (where popcert ran)"}},
                SPECS_BASE: {"description": {
                    "text": f"popcert {version}'s own specs and scenarios, "
                            "where each requirement is written (specs/requirements.yaml); not a "
                            "file of the certified system's repository"}}},
            "invocations": [{"executionSuccessful": bool(run.complete),
                             "commandLine": run.command,
                             "startTimeUtc": _utc(run.started_at),
                             **({"endTimeUtc": _utc(run.finished_at)} if run.finished_at
                                else {})}],
            "results": results[:MAX_RESULTS],
            "properties": {"verdict": report.verdict.status,
                           "blocking": list(report.verdict.blocking),
                           **({"resultsOmitted": len(results) - MAX_RESULTS}
                              if len(results) > MAX_RESULTS else {})},
        }],
    }
