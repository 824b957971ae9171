"""SARIF 2.1.0 from the canonical report, for code-scanning dashboards (GitHub upload-sarif).

One rule per check; one result per failing check (fail or error), or one per FINDING evidence
when the check located its findings (SAST file/line, firewall ruleset line). Code scanning needs a
location on every result, so a check without findings points at the spec its requirement cites.
A failure under a valid waiver carries an accepted external suppression.
"""

from __future__ import annotations

from typing import Any

SARIF_SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
LEVELS = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
# GitHub ranks security alerts by this property (0.0-10.0, CVSS-like bands).
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0", "info": "0.0"}
SPEC_FILES = {"connection/": "specs/connection/v1/openapi.yaml", "npdb/": "specs/npdb/v1/openapi.yaml",
              "national firewall baseline": "specs/firewall/", "scenarios/": ""}


def _fallback_uri(check: dict[str, Any]) -> str:
    requirement = check["requirement"]
    for prefix, uri in SPEC_FILES.items():
        if requirement.startswith(prefix):
            # A scenario requirement names its own file: point at it.
            return uri or requirement.split()[0]
    return f"specs/profiles/{check['suite']}"


def _rule(result: dict[str, Any]) -> dict[str, Any]:
    check = result["check"]
    return {
        "id": check["id"],
        "name": "".join(part.capitalize() for part in check["id"].split("-")),
        "shortDescription": {"text": check["title"]},
        "fullDescription": {"text": check["requirement"]},
        "help": {"text": f"{check['title']}. Requirement: {check['requirement']}"},
        "defaultConfiguration": {"level": LEVELS.get(check["severity"], "warning")},
        "properties": {"tags": ["security", "popcert", check["suite"]],
                       "security-severity": SECURITY_SEVERITY.get(check["severity"], "5.0"),
                       "severity": check["severity"]},
    }


def _location(uri: str, line: int | None) -> dict[str, Any]:
    physical: dict[str, Any] = {"artifactLocation": {"uri": uri}}
    if isinstance(line, int) and line >= 1:
        physical["region"] = {"startLine": line}
    return {"physicalLocation": physical}


def _results_for(result: dict[str, Any], rule_index: int) -> list[dict[str, Any]]:
    check = result["check"]
    level = LEVELS.get(check["severity"], "warning") if result["status"] == "fail" else "warning"
    prefix = "" if result["status"] == "fail" else "could not decide: "
    base: dict[str, Any] = {"ruleId": check["id"], "ruleIndex": rule_index, "kind": "fail", "level": level,
                            "properties": {"mandatory": result["mandatory"], "status": result["status"]}}
    waiver = result.get("waiver")
    if waiver and waiver.get("valid"):
        base["suppressions"] = [{"kind": "external", "status": "accepted",
                                 "justification": f"{waiver['reason']} ({waiver['assessor']}, "
                                                  f"until {waiver['expires']})"}]
    commands = [e["data"].get("command") for e in result["evidence"] if e["kind"] == "reproduction"]
    if commands:
        base["properties"]["reproduce"] = commands[0]
    findings = [e for e in result["evidence"] if e["kind"] == "finding"]
    if not findings:
        return [{**base, "message": {"text": prefix + result["summary"]},
                 "locations": [_location(_fallback_uri(check), None)]}]
    entries = []
    for finding in findings:
        data = finding["data"]
        entries.append({**base,
                        "message": {"text": f"{prefix}{data.get('message') or result['summary']}"
                                            f" [{data.get('rule')}]"},
                        "locations": [_location(str(data.get("location") or _fallback_uri(check)),
                                                data.get("line"))]})
    return entries


def render_sarif(report: dict[str, Any]) -> dict[str, Any]:
    ordered = sorted(report["results"], key=lambda r: r["check"]["id"])
    rules = [_rule(r) for r in ordered]
    index = {rule["id"]: i for i, rule in enumerate(rules)}
    results = [entry for r in ordered if r["status"] in ("fail", "error")
               for entry in _results_for(r, index[r["check"]["id"]])]
    run = report["run"]
    return {
        "$schema": SARIF_SCHEMA_URI,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "popcert", "version": report["harness"]["version"],
                                "semanticVersion": report["harness"]["version"],
                                "informationUri": "https://popcert.invalid/docs/reports",
                                "rules": rules}},
            "automationDetails": {"id": f"popcert/{report['profile']['name']}/{run['id']}"},
            "invocations": [{"executionSuccessful": bool(run["complete"]),
                             "commandLine": run["command"],
                             "startTimeUtc": run["started_at"],
                             **({"endTimeUtc": run["finished_at"]} if run["finished_at"] else {})}],
            "results": results,
            "properties": {"verdict": report["verdict"]["status"],
                           "blocking": report["verdict"]["blocking"]},
        }],
    }
