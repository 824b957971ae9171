"""junit.xml: valid against the vendored XSD, one testcase per check, statuses mapped."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
import xmlschema

from harness.report.document import SCHEMA_DIR
from harness.report.junit import render_junit
from tests.unit.report.sample_report import doc, sample_report

# popcert's own schema, the strict Ant layout (windyroad JUnit.xsd) and the one Jenkins reads.
SCHEMAS = ("junit.xsd", "junit-ant-strict.xsd", "junit-jenkins.xsd")


@pytest.fixture(scope="module", params=SCHEMAS)
def junit_schema(request: pytest.FixtureRequest) -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(SCHEMA_DIR / request.param))


def _cases(xml: bytes) -> dict[str, ET.Element]:
    return {c.get("name"): c for c in ET.fromstring(xml).iter("testcase")}  # type: ignore[misc]


def test_junit_is_valid_and_maps_statuses(junit_schema: xmlschema.XMLSchema) -> None:
    report = sample_report()
    xml = render_junit(doc(report))
    junit_schema.validate(xml.decode())
    cases = _cases(xml)
    assert set(cases) == {r["check"]["id"] for r in report["results"]}
    assert cases["AUTH-JWT-ALG-NONE"].get("classname") == "auth"
    failure = cases["AUTH-JWT-ALG-NONE"].find("failure")
    assert failure is not None and failure.get("type") == "critical"
    assert "popcert run-check AUTH-JWT-ALG-NONE" in (failure.text or "")
    assert cases["CONF-SCHEMA-RESPONSES"].find("error") is not None
    assert cases["FW-DEFAULT-DENY"].find("skipped") is not None
    assert cases["TLS-CERT-ROTATION"].find("skipped") is not None
    waived = cases["LOAD-LATENCY-P99"].find("skipped")
    assert waived is not None and "waived until 2025-06-30" in (waived.get("message") or "")
    assert cases["AUTH-DOSSIER-OWNER"].find("failure") is None
    root = ET.fromstring(xml)
    assert root.attrib == {}  # the strict Ant schema allows no attribute on <testsuites>
    totals = [sum(int(s.get(k) or 0) for s in root.iter("testsuite")) for k in ("failures", "errors", "tests")]
    assert totals == [2, 1, 9]
    assert all(case.find("system-out") is None for case in cases.values())
    out = "".join(s.findtext("system-out") or "" for s in root.iter("testsuite"))
    assert "AUTH-JWT-ALG-NONE fail: Tokens with alg none are refused" in out


def test_an_expired_waiver_stays_a_failure() -> None:
    report = sample_report()
    report["results"][3]["waiver"]["valid"] = False
    assert _cases(render_junit(doc(report)))["LOAD-LATENCY-P99"].find("failure") is not None


def test_control_characters_from_the_sut_do_not_break_the_xml(junit_schema: xmlschema.XMLSchema) -> None:
    report = sample_report()
    report["results"][0]["summary"] = "body had \x00\x07 bytes"
    junit_schema.validate(render_junit(doc(report)).decode())


def test_the_xsd_rejects_a_malformed_junit(junit_schema: xmlschema.XMLSchema) -> None:
    xml = render_junit(doc(sample_report())).replace(b'<testcase name="', b'<testcase label="', 1)
    assert not junit_schema.is_valid(xml.decode())


def test_the_strict_ant_schema_rejects_what_jenkins_tolerates() -> None:
    strict = xmlschema.XMLSchema(str(SCHEMA_DIR / "junit-ant-strict.xsd"))
    xml = render_junit(doc(sample_report()))
    assert not strict.is_valid(xml.replace(b"<testsuites>", b'<testsuites tests="9">', 1).decode())
    case_out = xml.replace(b"</testcase>", b"<system-out>x</system-out></testcase>", 1)
    assert not strict.is_valid(case_out.decode())
