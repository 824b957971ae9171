"""A realistic canonical report for the renderer, signing and diff tests (and anyone else's).

``sample_report()`` returns a fresh NOT CERTIFIED report: a province system with one critical
auth failure whose response body is hostile HTML, a waived load failure with charts, a SAST
finding with file/line, an error, a skip and a manual item. Built with the harness's own
Evidence constructors so the shapes are the ones suites really produce.
"""

from __future__ import annotations

import copy
from typing import Any

from harness.checks import Evidence
from harness.report.document import ReportDocument

HOSTILE_BODY = ('<script>window.__pwned = true; document.title = "PWNED"</script>'
                '<img src=x onerror="window.__pwned_img = true">')
SAMPLE_SPECS = {
    "npdb": {"version": "v1", "sha256": "1" * 64},
    "connection": {"version": "v1", "sha256": "2" * 64},
    "firewall": {"version": "2024", "sha256": "3" * 64},
}
HARNESS_VERSION = "0.1.0"
RUN_DAY = "2025-04-01"


def doc(report: dict[str, Any]) -> ReportDocument:
    """The typed document of a sample report (after a test edited its JSON)."""
    return ReportDocument.from_json(report)


def _ev(*evidence: Evidence) -> list[dict[str, Any]]:
    return [e.to_json() for e in evidence]


def _check(check_id: str, suite: str, title: str, severity: str, requirement: str,
           defects: list[str]) -> dict[str, Any]:
    return {"id": check_id, "suite": suite, "title": title, "severity": severity,
            "requirement": requirement, "defects": defects}


def _result(check: dict[str, Any], status: str, summary: str, evidence: list[dict[str, Any]],
            *, mandatory: bool = True, measurements: dict[str, float] | None = None,
            waiver: dict[str, Any] | None = None, minute: int = 0) -> dict[str, Any]:
    return {"check": check, "mandatory": mandatory, "status": status, "summary": summary,
            "evidence": evidence, "measurements": measurements or {},
            "started_at": f"{RUN_DAY}T09:{minute:02d}:00+07:00", "duration_s": 1.25 + minute,
            "waiver": waiver}


def _load_series() -> dict[str, Any]:
    seconds = range(0, 60, 5)
    return {
        "throughput": Evidence.chart("Throughput", {"requests/s": [(t, 40 + (t % 20)) for t in seconds]},
                                     x_label="time (s)", y_label="requests/s"),
        "latency": Evidence.chart("Latency percentiles", {
            "p50": [(t, 45 + t / 10) for t in seconds],
            "p95": [(t, 120 + t) for t in seconds],
            "p99": [(t, 260 + 2 * t) for t in seconds]}, x_label="time (s)", y_label="ms"),
        "errors": Evidence.chart("Errors by type", {
            "HTTP 503": [(t, 1 if t > 30 else 0) for t in seconds],
            "timeout": [(t, 0) for t in seconds]}, x_label="time (s)", y_label="errors/s"),
    }


def sample_report() -> dict[str, Any]:
    alg_none = _check("AUTH-JWT-ALG-NONE", "auth", "Tokens with alg none are refused", "critical",
                      "connection/v1 §security: tokens signed ES256 by the national token service",
                      ["auth.alg_none_accepted"])
    owner = _check("AUTH-DOSSIER-OWNER", "auth", "A portal tenant cannot read another tenant's dossier",
                   "high", "connection/v1 GET /dossiers/{dossier_id}: owner only, else 404",
                   ["auth.bola"])
    schema = _check("CONF-SCHEMA-RESPONSES", "conformance", "Responses match the connection API schema",
                    "high", "connection/v1 openapi.yaml", ["conformance.wrong_status_field"])
    latency = _check("LOAD-LATENCY-P99", "load", "p99 latency within the profile threshold", "medium",
                     "profile province thresholds.load.p99_ms", ["load.slow_npdb_calls"])
    sast = _check("SAST-HARDCODED-SECRET", "sast", "No credentials in the source tree", "high",
                  "Circular 12/2022 §8: secrets kept out of source", ["sast.hardcoded_secret"])
    tls = _check("TLS-PROTOCOLS", "tls", "Only TLS 1.2+ offered", "high",
                 "connection/v1 §transport: TLS 1.2 or 1.3 only", ["tls.allow_tls10"])
    fw = _check("FW-DEFAULT-DENY", "firewall", "Inbound default policy is DROP", "critical",
                "national firewall baseline §2.1", ["firewall.default_accept"])
    scn = _check("SCN-BIRTH-REGISTRATION", "scenario", "Birth registration scenario completes", "high",
                 "scenarios/birth_registration.yaml", ["scenario.wrong_purpose_code"])
    pentest = _check("TLS-CERT-ROTATION", "tls", "Certificate rotation procedure", "low",
                     "connection plan §6", [])
    charts = _load_series()
    results = [
        _result(alg_none, "fail", "a token with alg none was accepted (HTTP 200)", _ev(
            Evidence.request("GET", "https://127.0.0.1:8443/connection/v1/dossiers/D-0001",
                             {"Authorization": "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJwb3J0YWwifQ.",
                              "X-Request-Id": "5b0c3c1e-1d7e-4a43-9d5c-0a6b1c0e9f11"}),
            Evidence.response(200, {"Content-Type": "text/html", "X-Injected": '"><script>alert(1)</script>'},
                              HOSTILE_BODY, elapsed_ms=12.5),
            Evidence.reproduction("popcert run-check AUTH-JWT-ALG-NONE -c run.yaml")), minute=1),
        _result(owner, "pass", "portal-b got 404 for portal's dossier", _ev(
            Evidence.response(404, {"Content-Type": "application/json"}, {"error": "not_found"})), minute=2),
        _result(schema, "error", "the SUT closed the connection before answering", _ev(
            Evidence(kind="traceback", title="traceback",  # type: ignore[arg-type]
                     data={"text": "Traceback (most recent call last):\n  ...\nhttpx.RemoteProtocolError: "
                                   "Server disconnected without sending a response."})), minute=3),
        _result(latency, "fail", "p99 latency 380 ms exceeds the 300 ms threshold",
                _ev(Evidence.measurement("p99_ms", 380, "ms", limit=300),
                    charts["throughput"], charts["latency"], charts["errors"]),
                measurements={"p99_ms": 380.0, "p95_ms": 180.0, "rps": 52.4},
                waiver={"check_id": "LOAD-LATENCY-P99", "reason": "nightly batch moves off-peak in 2.3",
                        "assessor": "Nguyễn Thị Minh Anh", "approved_on": "2025-03-01",
                        "expires": "2025-06-30", "valid": True}, minute=4),
        _result(sast, "fail", "a hard-coded NPDB client secret was found", _ev(
            Evidence.finding("examples/city_system/npdb_client.py", 42, "B105",
                             "Possible hardcoded password: 'npdb-secret-123'"),
            Evidence.finding("examples/city_system/settings.py", None, "B105", "Possible hardcoded password")),
            minute=5),
        _result(tls, "pass", "offers TLS 1.2 and 1.3 only", _ev(
            Evidence.measurement("protocols", "TLSv1.2,TLSv1.3")), minute=6),
        _result(fw, "skip", "no firewall ruleset given in run.yaml (firewall:)", [], minute=7),
        _result(scn, "pass", "dossier completed in 3 NPDB calls with purpose 1.001193", [], minute=8),
        _result(pentest, "skip", "no rotation is due before the certificate expires", [], mandatory=False,
                minute=9),
    ]
    by_status: dict[str, int] = {}
    by_suite: dict[str, dict[str, int]] = {}
    for r in results:
        by_status[r["status"]] = by_status.get(r["status"], 0) + 1
        suite = by_suite.setdefault(r["check"]["suite"], {})
        suite[r["status"]] = suite.get(r["status"], 0) + 1
    report = {
        "schema_version": "1.0",
        "harness": {"name": "popcert", "version": HARNESS_VERSION},
        "run": {"id": "20250401T0900-hn-tthc", "started_at": f"{RUN_DAY}T09:00:00+07:00",
                "finished_at": f"{RUN_DAY}T09:12:30+07:00", "complete": True, "interrupted": None,
                "quick": False, "seed": 6, "command": "popcert certify -c run.yaml"},
        "system": {"name": "Hệ thống thông tin giải quyết thủ tục hành chính Hà Nội",
                   "organisation": "UBND Thành phố Hà Nội", "level": "province",
                   "base_url": "https://127.0.0.1:8443", "config_file": "ci/run.yaml"},
        "profile": {"name": "province", "version": "1.0", "title_vi": "Cấp tỉnh",
                    "title_en": "Province level"},
        "specs": copy.deepcopy(SAMPLE_SPECS),
        "verdict": {"status": "NOT CERTIFIED",
                    "reasons": ["AUTH-JWT-ALG-NONE: mandatory check ended fail",
                                "CONF-SCHEMA-RESPONSES: mandatory check ended error",
                                "SAST-HARDCODED-SECRET: mandatory check ended fail",
                                "FW-DEFAULT-DENY: mandatory check ended skip"],
                    "blocking": ["AUTH-JWT-ALG-NONE", "CONF-SCHEMA-RESPONSES",
                                 "FW-DEFAULT-DENY", "SAST-HARDCODED-SECRET"]},
        "summary": {"by_status": by_status, "by_suite": by_suite},
        "results": results,
        "attestations": [
            {"item_id": "connection-plan", "title": "Connection plan reviewed",
             "title_vi": "Đã thẩm định phương án kết nối", "required": True, "status": "attested",
             "assessor": "Nguyễn Thị Minh Anh", "date": "2025-03-02",
             "statement": "Reviewed the connection plan v1.4", "evidence_refs": ["PAKN-HN-2025-v1.4"]},
            {"item_id": "server-hardening", "title": "Servers hardened",
             "title_vi": "Máy chủ đã được gia cố", "required": True, "status": "missing",
             "assessor": None, "date": None, "statement": None, "evidence_refs": []},
        ],
    }
    return copy.deepcopy(report)


def certified_report() -> dict[str, Any]:
    """The same system after fixes: every mandatory check passes (or is waived)."""
    report = sample_report()
    for result in report["results"]:
        if result["status"] in ("fail", "error", "skip") and result["mandatory"] \
                and result["waiver"] is None:
            result["status"] = "pass"
            result["summary"] = "fixed"
            result["evidence"] = []
    report["verdict"] = {"status": "CERTIFIED", "reasons": [], "blocking": []}
    counts: dict[str, int] = {}
    by_suite: dict[str, dict[str, int]] = {}
    for r in report["results"]:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
        suite = by_suite.setdefault(r["check"]["suite"], {})
        suite[r["status"]] = suite.get(r["status"], 0) + 1
    report["summary"] = {"by_status": counts, "by_suite": by_suite}
    return report


def registered_certified_report(profile_name: str = "district") -> dict[str, Any]:
    """A CERTIFIED report whose verdict really follows from its results under the real profile:
    one passing result per registered check, every required attestation given (for verify tests).
    """
    from harness.profiles import load_profile
    from harness.registry import default_registry
    from harness.report.specs import current_specs, harness_version
    profile = load_profile(profile_name)
    report = sample_report()
    report["harness"]["version"] = harness_version()
    report["specs"] = current_specs()
    report["system"]["level"] = profile_name
    report["profile"] = {"name": profile.name, "version": profile.version,
                         "title_vi": profile.title_vi, "title_en": profile.title_en}
    report["results"] = [
        _result(check.to_json(), "pass", "passed", [], mandatory=profile.is_mandatory(check.id))
        for check in sorted(default_registry(), key=lambda c: c.id)]
    report["attestations"] = [
        {"item_id": item.id, "title": item.title_en, "title_vi": item.title_vi,
         "required": item.required, "status": "attested", "assessor": "Nguyễn Thị Minh Anh",
         "date": "2025-03-02", "statement": "reviewed", "evidence_refs": []}
        for item in profile.attestations]
    by_suite: dict[str, dict[str, int]] = {}
    for r in report["results"]:
        by_suite.setdefault(r["check"]["suite"], {"pass": 0})["pass"] += 1
    report["summary"] = {"by_status": {"pass": len(report["results"])}, "by_suite": by_suite}
    report["verdict"] = {"status": "CERTIFIED", "reasons": [], "blocking": []}
    return as_run_wrote_it(report)


def as_run_wrote_it(report: dict[str, Any]) -> dict[str, Any]:
    """The report with what a run of this popcert records about itself: the run mode (and its
    banner), the registered checks and the results' digest chain over the results as they are now.

    A test that edits results calls it again to stand for a run that really produced them; an
    edit made after this call is an edit after the run (what verify, sign and issue refuse).
    """
    from harness.registry import default_registry
    from harness.report.banner import banner_for, run_mode
    from harness.report.chain import chain_of, core_of_json

    run = report["run"]
    run.setdefault("mode", run_mode(quick=run["quick"], demo=False))
    run["registered_checks"] = sorted(default_registry().ids())
    run["results_chain"] = chain_of(core_of_json(r) for r in report["results"]).to_json()
    banner = banner_for(run["mode"], run["quick"])
    if banner:
        report["banner"] = banner
    else:
        report.pop("banner", None)
    return report


def sign_unchecked(report_path: Any, key_path: Any) -> Any:
    """report.json.sig as any Ed25519 tool makes it (e.g. `openssl pkeyutl -sign -rawin`), without
    `popcert sign`'s refusal of a report whose content does not hold: verify must still catch it."""
    from harness.signing.keys import SIGNATURE_SUFFIX, load_private_key, sign_bytes

    signature_path = report_path.with_name(report_path.name + SIGNATURE_SUFFIX)
    signature_path.write_bytes(sign_bytes(report_path.read_bytes(), load_private_key(key_path)))
    return signature_path
