"""Why not certified, first (issue 21 §4): failures and errors lead, skips are one line per suite,
a partial --suite run says so; the HTML shows per-endpoint load statistics, named chart axes and
Vietnamese suite names, skip reasons and measured values; the terminal lists every failure."""

from __future__ import annotations

import io
from html import unescape
from pathlib import Path
from typing import Any

from rich.console import Console

from harness.checks import Evidence
from harness.engine import RunOutcome
from harness.profiles import Verdict
from harness.report.html import render_html
from harness.report.why import ordered_reasons, partial_run_line
from harness.runner import print_verdict
from tests.unit.report.sample_report import doc, sample_report

NOT_SELECTED = "suite '{}' is not selected in the run config"


def _skip(check_id: str, suite: str) -> dict[str, Any]:
    return {"check": {"id": check_id, "suite": suite, "title": f"{check_id} holds.",
                      "severity": "high", "requirement": "r", "defects": []},
            "mandatory": True, "status": "skip", "summary": NOT_SELECTED.format(suite),
            "evidence": [], "measurements": {}, "started_at": "2025-04-01T09:00:00+07:00",
            "duration_s": 0.0, "waiver": None}


def partial_report(failures: int = 0) -> dict[str, Any]:
    """The sample report as a --suite run that left tls and scenario out (30 skips), with
    ``failures`` extra failed auth checks whose reasons sort before SAST's."""
    report = sample_report()
    report["results"] = [r for r in report["results"]
                         if r["check"]["suite"] not in ("tls", "scenario")]
    skips = [_skip(f"TLS-X{i:02d}", "tls") for i in range(18)] + \
        [_skip(f"SCN-X{i:02d}", "scenario") for i in range(12)]
    extra = []
    for i in range(failures):
        failed = _skip(f"AUTH-A{i:02d}", "auth")
        failed.update(status="fail", summary=f"forged token {i} accepted")
        extra.append(failed)
    report["results"] += skips + extra
    report["verdict"]["reasons"] = sorted(
        report["verdict"]["reasons"]
        + [f"{r['check']['id']}: mandatory check ended skip — {r['summary']}" for r in skips]
        + [f"{r['check']['id']}: mandatory check ended fail — {r['summary']}" for r in extra])
    return report


def test_failures_and_errors_come_first_and_skips_are_one_line_per_suite() -> None:
    report = doc(partial_report())
    lines = ordered_reasons(report.verdict.reasons, report.results)
    kinds = [line.kind for line in lines]
    assert kinds == ["fail", "fail", "error", "skip", "skip", "skip"], kinds
    assert lines[0].check_id == "AUTH-JWT-ALG-NONE" and lines[1].check_id == "SAST-HARDCODED-SECRET"
    by_suite = {line.suite: line for line in lines if line.kind == "skip"}
    assert by_suite["tls"].text == ("tls: 18 mandatory checks skipped — the suite was not "
                                    "selected (--suite)")
    assert len(by_suite["scenario"].check_ids) == 12
    assert by_suite["firewall"].text == (
        "firewall: 1 mandatory check skipped — no firewall ruleset given in run.yaml (firewall:)")
    assert partial_run_line(report) == (
        "partial run: only auth, conformance, firewall, load, sast ran; scenario, tls were not "
        "selected (--suite), so this run cannot certify")
    assert partial_run_line(doc(sample_report())) is None  # every suite ran


def test_the_html_answers_why_not_certified_first() -> None:
    html = render_html(doc(partial_report()))
    reasons = html[html.index('id="verdict-reasons"'):html.index("</ul>", html.index(
        'id="verdict-reasons"'))]
    items = reasons.split("<li ")[1:]
    assert len(items) == 6  # 3 blocking results + one line per skipped suite (not 31 lines)
    assert 'class="reason-fail"' in items[0] and "AUTH-JWT-ALG-NONE" in items[0]
    assert "18 kiểm tra bắt buộc bị bỏ qua" in reasons and "Cấu hình TLS" in reasons
    assert 'id="partial-run"' in html and "scenario, tls were not selected" in html
    table = html[html.index('id="results"'):]
    assert table.index("AUTH-JWT-ALG-NONE") < table.index('id="result-AUTH-DOSSIER-OWNER"')
    assert table.count('class="result-row skipped-suite"') == 3  # tls, scenario, firewall
    assert table.count('class="result-row"') + table.count('class="result-row waived"') == 5
    assert "nhóm kiểm tra tls không được chọn trong cấu hình chạy (--suite)" in table


def test_the_terminal_shows_every_failure_and_collapses_skips() -> None:
    report = doc(partial_report(failures=20))
    out = io.StringIO()
    outcome = RunOutcome(Path("/tmp/run"), report, Verdict(
        report.verdict.status, report.verdict.reasons, report.verdict.blocking), {})
    print_verdict(outcome, Console(file=out, width=300))
    text = out.getvalue()
    for i in range(20):
        assert f"AUTH-A{i:02d}: mandatory check ended fail — forged token {i} accepted" in text
    assert "SAST-HARDCODED-SECRET: mandatory check ended fail" in text  # was hidden after 15
    assert "more (see the report)" not in text
    assert text.count("mandatory check ended skip") == 0
    assert "tls: 18 mandatory checks skipped" in text and "partial run: only auth" in text
    assert text.index("AUTH-A19") < text.index("SAST-HARDCODED-SECRET") < text.index("tls: 18")


def test_load_statistics_per_endpoint_are_a_table() -> None:
    report = sample_report()
    stats = {"aggregated": {"name": "Aggregated", "requests": 206, "failures": 1, "median_ms": 4.0,
                            "p95_ms": 10.0, "p99_ms": 13.0, "rps": 29.4},
             "endpoints": [{"name": "GET /connection/v1/dossiers", "requests": 40, "failures": 0,
                            "median_ms": 5.0, "p95_ms": 12.0, "p99_ms": 13.0, "rps": 5.7},
                           {"name": "POST /connection/v1/dossiers", "requests": 51, "failures": 1,
                            "median_ms": 7.0, "p95_ms": 14.0, "p99_ms": 21.0, "rps": 7.3}]}
    report["results"][3]["evidence"].append(
        Evidence.note("", title="per-endpoint statistics").to_json() | {"data": stats})
    html = unescape(render_html(doc(report)))
    table = html[html.index('id="endpoint-stats"'):html.index("</table>", html.index(
        'id="endpoint-stats"'))]
    assert "p50 (ms)" in table and "p95 (ms)" in table and "p99 (ms)" in table
    assert "Requests" in table and "Failures" in table and "req/s" in table
    assert "POST /connection/v1/dossiers</code></td><td class=\"num\">51</td>" \
           "<td class=\"num\">1</td><td class=\"num\">7.0</td><td class=\"num\">14.0</td>" \
           "<td class=\"num\">21.0</td><td class=\"num\">7.3</td>" in table
    assert ">206<" in table and ">29.4<" in table  # the all-endpoints row


def test_charts_name_their_axes_with_units_in_both_languages() -> None:
    report = sample_report()
    series = {"ok_rps": [(1.0, 30.0), (2.0, 31.0)], "users": [(1.0, 20.0), (2.0, 20.0)]}
    report["results"][3]["evidence"] = [
        Evidence.chart("throughput", series, x_label="s", y_label="req/s").to_json()]
    html = render_html(doc(report))
    charts = html[html.index('id="charts"'):html.index('id="waivers"')]
    for text in ("Time since start (s)", "Thời gian từ lúc bắt đầu (s)",
                 "Requests per second (req/s)", "Số yêu cầu mỗi giây (req/s)",
                 "Throughput over time", "Thông lượng theo thời gian", "successful (req/s)",
                 "người dùng ảo"):
        assert text in charts, text


def test_vietnamese_shows_measured_values_suite_names_and_evidence_kinds() -> None:
    html = render_html(doc(sample_report()))
    row = html[html.index('id="result-AUTH-DOSSIER-OWNER"'):]
    row = row[:row.index("</tr>")]
    vi_cell = row[row.rindex('<span class="vi" lang="vi">'):]
    assert "portal-b got 404 for portal&#39;s dossier" in vi_cell  # what was measured
    assert "Xác thực và phân quyền" in row  # the suite, in Vietnamese
    failures = html[html.index('id="failures"'):html.index('id="suite-summary"')]
    assert '<span class="vi" lang="vi">yêu cầu</span><span class="en" lang="en">request</span>' \
        in failures


def test_a_reproduction_shows_how_to_get_each_variable() -> None:
    from harness.net import token_variable

    report = sample_report()
    command = 'curl -sS -X GET -H "Authorization: Bearer $TOKEN" https://127.0.0.1:8443/x'
    report["results"][0]["evidence"].append(Evidence.reproduction(
        command, variables=[token_variable("portal", ["dossier.read"])]).to_json())
    html = unescape(render_html(doc(report)))
    assert ('export TOKEN="$(popcert mock credential token --client portal --scope '
            'dossier.read)"') in html
    assert "built-in method" not in html
