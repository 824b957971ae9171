"""The HTML certificate: verdict up front, both languages, evidence inert, charts, banners."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path

from harness.report.html import render_html
from tests.unit.report.sample_report import (
    HOSTILE_BODY,
    certified_report,
    doc,
    sample_report,
)


def test_hostile_evidence_is_escaped() -> None:
    html = render_html(doc(sample_report()))
    assert HOSTILE_BODY not in html
    assert "<script>window.__pwned" not in html and "<img src=x onerror" not in html
    assert "&lt;script&gt;window.__pwned = true;" in html  # shown to the reader, inert
    assert '&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;' in html  # hostile header value
    # Exactly one script element: the language toggle.
    assert len(re.findall(r"<script\b", html)) == 1


def test_page_is_self_contained() -> None:
    html = render_html(doc(sample_report()))
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "<link" not in html
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html)
    assert csp is not None
    policy = unescape(csp.group(1))
    assert "default-src 'none'" in policy and "script-src 'sha256-" in policy


def test_verdict_system_profile_and_versions_are_shown() -> None:
    html = render_html(doc(sample_report()))
    verdict = html.index('id="verdict"')
    # why not certified comes first: the failed checks before the tables and charts
    assert verdict < html.index('id="identity"') < html.index('id="failures"') < html.index(
        'id="suite-summary"') < html.index('id="charts"')
    assert "verdict-NOT-CERTIFIED" in html and "KHÔNG ĐẠT CHỨNG NHẬN" in html and "NOT CERTIFIED" in html
    for text in ("Hệ thống thông tin giải quyết thủ tục hành chính Hà Nội", "Cấp tỉnh",
                 "Province level", "popcert 0.1.0", "npdb v1", "connection v1", "1111111111111111"):
        assert text in html


def test_both_languages_and_a_toggle() -> None:
    html = render_html(doc(sample_report()))
    assert '<html lang="vi" data-lang="vi">' in html and 'id="lang-toggle"' in html
    assert '<span class="vi" lang="vi">Tổng hợp theo nhóm kiểm tra</span>' in html
    assert '<span class="en" lang="en">Summary by suite</span>' in html
    assert 'html[data-lang="vi"] .en' in html


def test_failed_checks_show_severity_requirement_evidence_reproduction() -> None:
    html = render_html(doc(sample_report()))
    failures = html[html.index('id="failures"'):html.index('id="suite-summary"')]
    for check_id in ("AUTH-JWT-ALG-NONE", "CONF-SCHEMA-RESPONSES", "SAST-HARDCODED-SECRET", "LOAD-LATENCY-P99"):
        assert f'id="check-{check_id}"' in failures
    assert 'id="check-AUTH-DOSSIER-OWNER"' not in failures  # passed
    alg_none = failures[failures.index('id="check-AUTH-JWT-ALG-NONE"'):]
    alg_none = alg_none[:alg_none.index("</article>")]
    assert "sev-critical" in alg_none and "tokens signed ES256" in alg_none
    assert "GET https://127.0.0.1:8443/connection/v1/dossiers/D-0001" in alg_none
    assert "Authorization: [REDACTED]" in alg_none and "HTTP 200" in alg_none
    assert "<code>popcert run-check AUTH-JWT-ALG-NONE -c run.yaml</code>" in alg_none
    assert "examples/city_system/npdb_client.py:42" in failures
    assert "httpx.RemoteProtocolError" in failures


def test_a_check_naming_requirement_ids_shows_their_text_and_source() -> None:
    report = sample_report()
    failed = next(r for r in report["results"] if r["check"]["id"] == "AUTH-JWT-ALG-NONE")
    failed["check"]["requirements"] = ["RFC8725-ALG-VERIFY", "NOT-IN-THE-CATALOGUE"]
    html = render_html(doc(report))
    article = html[html.index('id="check-AUTH-JWT-ALG-NONE"'):]
    article = article[:article.index("</article>")]
    from harness.requirements import load_catalogue

    entry = load_catalogue().get("RFC8725-ALG-VERIFY")
    assert entry is not None
    assert '<span class="requirement-id">RFC8725-ALG-VERIFY</span>' in article
    assert entry.text.vi in unescape(article) and entry.text.en in unescape(article)
    assert entry.source.reference() in unescape(article)
    # An id this popcert does not know (a newer report) is shown as it is, without text.
    assert '<span class="requirement-id">NOT-IN-THE-CATALOGUE</span></li>' in article
    # The table of all results names the ids too, with the text on hover.
    row = html[html.index('id="result-AUTH-JWT-ALG-NONE"'):]
    row = row[:row.index("</tr>")]
    assert '>RFC8725-ALG-VERIFY</span>' in row and unescape(entry.source.reference()) in unescape(row)


def test_json_bodies_are_pretty_printed() -> None:
    report = sample_report()
    report["results"][0]["evidence"][1]["data"]["body"] = '{"b": 1, "a": {"c": "đ"}}'
    html = render_html(doc(report))
    assert '{\n  &#34;a&#34;: {\n    &#34;c&#34;: &#34;đ&#34;\n  },\n  &#34;b&#34;: 1\n}' in html


def test_charts_are_inline_svg() -> None:
    html = render_html(doc(sample_report()))
    charts = html[html.index('id="charts"'):html.index('id="waivers"')]
    assert charts.count("<svg") == 3
    for series in ("p50", "p95", "p99", "requests/s", "HTTP 503"):
        assert f'data-series="{series}"' in charts


def test_chart_labels_are_escaped() -> None:
    report = sample_report()
    report["results"][3]["evidence"][1]["data"]["series"] = {"<script>x()</script>": [[0, 1], [1, 2]]}
    html = render_html(doc(report))
    assert "<script>x()" not in html and "&lt;script&gt;x()" in html


def test_waivers_and_attestations() -> None:
    html = render_html(doc(sample_report()))
    waivers = html[html.index('id="waivers"'):html.index('id="attestations"')]
    assert "LOAD-LATENCY-P99" in waivers and "2025-06-30" in waivers
    attestations = html[html.index('id="attestations"'):html.index('id="results"')]
    assert "connection-plan" in attestations and "server-hardening" in attestations
    assert '<span class="en" lang="en">missing</span>' in attestations


def test_incomplete_banner_only_when_the_run_did_not_finish() -> None:
    report = certified_report()
    assert 'id="incomplete-banner"' not in render_html(doc(report))
    report["run"].update(complete=False, interrupted="interrupted by Ctrl-C", finished_at=None)
    report["verdict"]["status"] = "INCOMPLETE"
    html = render_html(doc(report))
    assert 'id="incomplete-banner"' in html and "interrupted by Ctrl-C" in html
    assert "verdict-INCOMPLETE" in html


def test_certified_page() -> None:
    html = render_html(doc(certified_report()))
    assert "verdict-CERTIFIED" in html and "ĐẠT CHỨNG NHẬN" in html


def test_verdict_reasons_and_summary_table_link_to_each_failed_check() -> None:
    html = render_html(doc(sample_report()))
    reasons = html[html.index('id="verdict-reasons"'):html.index('id="identity"')]
    assert '<a href="#check-AUTH-JWT-ALG-NONE" class="reason-link">' in reasons
    assert '<a href="#check-SAST-HARDCODED-SECRET" class="reason-link">' in reasons
    assert 'href="#check-FW-DEFAULT-DENY"' not in reasons  # skipped: no article to link to
    summary = html[html.index('id="suite-summary"'):html.index('id="charts"')]
    for check_id in ("AUTH-JWT-ALG-NONE", "CONF-SCHEMA-RESPONSES", "SAST-HARDCODED-SECRET",
                     "LOAD-LATENCY-P99"):
        assert f'<a href="#check-{check_id}" class="check-link">{check_id}</a>' in summary
        assert f'id="check-{check_id}"' in html  # every link has its target
    results = html[html.index('id="results"'):]
    assert '<a href="#check-AUTH-JWT-ALG-NONE" class="check-link">' in results


def test_waived_failures_are_marked_waived_in_all_results() -> None:
    html = render_html(doc(sample_report()))
    results = html[html.index('id="results"'):]
    row = results[results.index('id="result-LOAD-LATENCY-P99"'):]
    row = row[:row.index("</tr>")]
    assert "waived" in row and "đã miễn trừ" in row and "status-waived" in row
    other = results[results.index('id="result-AUTH-JWT-ALG-NONE"'):]
    assert "status-waived" not in other[:other.index("</tr>")]


def test_check_texts_severities_and_reasons_in_vietnamese() -> None:
    report = sample_report()
    alg_none = report["results"][0]
    alg_none["check"].update(id="AUTH-JWT-ALG-NONE", title="An unsigned token (alg none, any letter case) is refused.",
                             requirements=["RFC7518-ALG-NONE"])
    report["verdict"]["reasons"].append("attestation server-hardening (Servers hardened) is missing")
    report["verdict"]["reasons"].append("LOAD-THROUGHPUT: mandatory check did not run")
    report["verdict"]["reasons"].append("TLS-CERT-EXPIRY: mandatory check ended fail — expires in 3 days")
    report["verdict"]["reasons"].append(
        "attestation connection-plan (Connection plan reviewed) expired on 2025-03-31: renew it")
    html = render_html(doc(report))
    article = html[html.index('id="check-AUTH-JWT-ALG-NONE"'):]
    article = article[:article.index("</article>")]
    assert "Token không ký (alg none, mọi kiểu chữ hoa thường) bị từ chối." in article
    assert "Hệ thống chấp nhận token không có chữ ký." in article  # the failure, in Vietnamese
    from harness.requirements import load_catalogue

    requirement = load_catalogue().get("RFC7518-ALG-NONE")
    assert requirement is not None and requirement.text.vi in unescape(article)  # the requirement
    assert '<span class="vi" lang="vi">nghiêm trọng</span><span class="en" lang="en">critical</span>' in article
    reasons = html[html.index('id="verdict-reasons"'):html.index('id="identity"')]
    assert "AUTH-JWT-ALG-NONE: kiểm tra bắt buộc có kết quả không đạt" in reasons
    assert "thiếu xác nhận thủ công server-hardening (Máy chủ đã được gia cố)" in reasons
    assert "LOAD-THROUGHPUT: kiểm tra bắt buộc không được chạy" in reasons
    assert "TLS-CERT-EXPIRY: kiểm tra bắt buộc có kết quả không đạt — expires in 3 days" in reasons
    assert ("xác nhận thủ công connection-plan (Đã thẩm định phương án kết nối) đã hết hạn ngày "
            "2025-03-31") in reasons


def test_reproduction_command_is_runnable_with_a_token_placeholder() -> None:
    from harness.checks import Evidence
    from harness.net import curl_command

    report = sample_report()
    command = curl_command("GET", "https://127.0.0.1:8443/connection/v1/dossiers/D-0001",
                           {"Authorization": "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJwb3J0YWwifQ."})
    report["results"][0]["evidence"].append(Evidence.reproduction(command).to_json())
    html = render_html(doc(report))
    assert "[REDACTED][REDACTED]" not in html
    assert "-H &#34;Authorization: Bearer $TOKEN&#34;" in html and "Set TOKEN to a token" in html


def test_latency_chart_plots_p50_p95_p99_and_errors_by_type_are_bars(tmp_path: Path) -> None:
    from harness.checks import Evidence
    from harness.suites.load.stats import HistoryPoint, errors_by_type, latency_series

    history = tuple(HistoryPoint(timestamp=1000 + i, users=10, p95_ms=90.0 + i,
                                 total_requests=20 * (i + 1),
                                 total_failures=0, p50_ms=20.0 + i, p99_ms=300.0 + i) for i in range(5))
    series = latency_series(history)
    assert [y for _, y in series["p99_ms"]] == [300.0, 301.0, 302.0, 303.0, 304.0]  # p99, not p95
    assert series["p50_ms"][0][1] == 20.0 and series["p95_ms"][0][1] == 90.0
    failures = tmp_path / "locust_failures.csv"
    failures.write_text("Method,Name,Error,Occurrences\nGET,/a,HTTPError('503'),7\nPOST,/b,"
                        "ConnectionResetError(104),2\nGET,/c,HTTPError('503'),1\n", encoding="utf-8")
    by_type = errors_by_type(failures)
    assert by_type == {"HTTPError('503')": [(0.0, 8.0)], "ConnectionResetError(104)": [(0.0, 2.0)]}
    report = sample_report()
    load = report["results"][3]
    bars = Evidence.chart("errors by type", by_type, x_label="error", y_label="occurrences")
    load["evidence"] = [
        Evidence.chart("response time p50/p95/p99 (rolling)", series, x_label="s", y_label="ms").to_json(),
        {**bars.to_json(), "data": {**bars.data, "style": "bars"}}]
    html = render_html(doc(report))
    charts = html[html.index('id="charts"'):html.index('id="waivers"')]
    assert 'data-series="p99_ms"' in charts and 'data-series="p50_ms"' in charts
    assert 'class="chart chart-bars"' in charts and 'data-series="HTTPError(&#39;503&#39;)"' in charts


def test_load_checks_emit_the_percentile_and_error_charts(tmp_path: Path) -> None:
    """What the load suite really records: p50/p95/p99 lines (p99 from the 99% column) and bars."""
    from harness.suites.load.thresholds import evaluate_error_rate, evaluate_p99
    from tests.unit.test_load_thresholds import LIMITS, write_run

    outcome = write_run(tmp_path, requests=1000, failures=50)
    (tmp_path / "locust_failures.csv").write_text(
        "Method,Name,Error,Occurrences\nPOST,/connection/v1/dossiers,HTTPError('503'),50\n", encoding="utf-8")
    p99 = next(e for e in evaluate_p99(outcome, LIMITS).evidence if e.kind == "chart")
    assert set(p99.data["series"]) == {"p50_ms", "p95_ms", "p99_ms"}
    assert {y for _, y in p99.data["series"]["p99_ms"]} == {100.0}  # the history's 99% column
    assert {y for _, y in p99.data["series"]["p95_ms"]} == {90.0}
    errors = [e for e in evaluate_error_rate(outcome, LIMITS).evidence
              if e.kind == "chart" and e.title == "errors by type"]
    assert errors and errors[0].data["style"] == "bars"
    assert errors[0].data["series"] == {"HTTPError('503')": [[0.0, 50.0]]}
