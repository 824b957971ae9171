"""JUnit XML from the canonical report: one <testsuite> per suite, one <testcase> per check.

CI systems read this to show which checks failed. fail -> <failure>, error -> <error>,
skip -> <skipped>. A failure covered by a valid waiver is <skipped> with the waiver's
reason, so a pipeline's test view agrees with the verdict. Validated against reports/schema/junit.xsd.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from typing import Any

from harness.report.document import ReportDocument, ResultEntry
from harness.untrusted import strip_control

# XML 1.0 forbids most control characters; a SUT's body may contain them.
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _clean(text: Any) -> str:
    # Terminal escapes from the SUT go first (CI logs print this text), then what XML forbids.
    return _INVALID_XML.sub("\ufffd", strip_control("" if text is None else str(text)))


def _evidence_text(result: ResultEntry) -> str:
    check = result.check
    lines = [f"requirement: {check.requirement}", f"severity: {check.severity}"]
    if check.requirements:
        lines.insert(0, f"requirements: {', '.join(map(str, check.requirements))}")
    for evidence in result.evidence:
        data = evidence.fields  # evidence data is JSON whose shape depends on its kind
        if evidence.kind == "reproduction":
            lines.append(f"reproduce: {data.get('command')}")
            lines += [f"  ${v.get('name')}: {v.get('meaning')}"
                      + (f" — export {v.get('name')}=\"$({v.get('get')})\"" if v.get("get") else "")
                      for v in data.get("variables") or () if isinstance(v, dict)]
        elif evidence.kind == "finding":
            where = data.get("location", "") + (f":{data['line']}" if data.get("line") else "")
            lines.append(f"finding: {where} [{data.get('rule')}] {data.get('message')}")
        elif evidence.kind == "request":
            lines.append(f"request: {data.get('method')} {data.get('url')}")
        elif evidence.kind == "response":
            lines.append(f"response: HTTP {data.get('status')}")
        elif evidence.kind == "measurement":
            lines.append(f"measurement: {data.get('name')} = {data.get('value')} {data.get('unit')}"
                         + (f" (limit {data.get('limit')})" if data.get("limit") is not None else ""))
        elif evidence.kind in ("note", "traceback"):
            text = data.get("text") if isinstance(evidence.data, dict) else evidence.data
            lines.append(f"{evidence.kind}: {text}")
    return _clean("\n".join(lines))


def _local_timestamp(started_at: str) -> str:
    """The Ant schema's timestamp: no zone, so UTC is written (and said in a property)."""
    try:
        moment = datetime.fromisoformat(started_at)
    except ValueError:
        return started_at[:19]
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def render_junit(report: ReportDocument) -> bytes:
    """Valid against the strict Ant schema and Jenkins': <testsuites> carries no attributes, a
    <testcase> holds at most one skipped/error/failure, per-check text goes in the suite's
    <system-out> (the only place both schemas allow it)."""
    suites: dict[str, list[ResultEntry]] = {}
    for result in report.results:
        suites.setdefault(result.check.suite, []).append(result)
    root = ET.Element("testsuites")
    timestamp = _local_timestamp(report.run.started_at)
    for index, (suite, results) in enumerate(sorted(suites.items())):
        counts = {"failures": 0, "errors": 0, "skipped": 0}
        element = ET.SubElement(root, "testsuite", name=suite, id=str(index), package="popcert",
                                timestamp=timestamp, hostname="localhost", tests=str(len(results)))
        properties = ET.SubElement(element, "properties")
        for name, value in (("system", report.system.name),
                            ("verdict", report.verdict.status), ("run_id", report.run.id),
                            ("profile", report.profile.name), ("timestamp_zone", "UTC")):
            ET.SubElement(properties, "property", name=name, value=_clean(value))
        suite_time = 0.0
        out_lines = []
        for result in sorted(results, key=lambda r: r.check.id):
            check = result.check
            suite_time += float(result.duration_s)
            case = ET.SubElement(element, "testcase", name=check.id, classname=suite,
                                 time=f"{float(result.duration_s):.3f}")
            status, summary = result.status, _clean(result.summary)
            if result.waived and result.waiver is not None:
                waiver = result.waiver
                ET.SubElement(case, "skipped", message=_clean(
                    f"waived until {waiver.expires} by {waiver.assessor}: {waiver.reason}"))
                counts["skipped"] += 1
            elif status == "fail":
                failure = ET.SubElement(case, "failure", message=summary, type=check.severity)
                failure.text = _evidence_text(result)
                counts["failures"] += 1
            elif status == "error":
                error = ET.SubElement(case, "error", message=summary, type="error")
                error.text = _evidence_text(result)
                counts["errors"] += 1
            elif status == "skip":
                ET.SubElement(case, "skipped", message=_clean(f"{status}: {result.summary}"))
                counts["skipped"] += 1
            out_lines.append(f"{check.id} {status}: {check.title} — {result.summary}")
        for key, count in counts.items():
            element.set(key, str(count))
        element.set("time", f"{suite_time:.3f}")
        ET.SubElement(element, "system-out").text = _clean("\n".join(out_lines))
        ET.SubElement(element, "system-err").text = ""
    ET.indent(root)
    # typeshed types tostring as Any for an encoding other than "unicode"; "utf-8" gives bytes
    document: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return document
