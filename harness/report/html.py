"""The HTML certificate: one self-contained, bilingual (vi/en) page rendered with jinja2.

Autoescape is on for everything: evidence carries what the SUT sent (HTML, scripts, headers) and
must stay inert. A Content-Security-Policy allowing only the page's own script (by hash) is a
second line of defence, and forbids every network fetch so the page is readable offline.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from functools import lru_cache
from typing import Any

from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    Undefined,
    select_autoescape,
)
from markupsafe import Markup, escape

from harness.report.catalogue import catalogue_vi
from harness.report.charts import chart_svg
from harness.report.document import TEMPLATE_DIR, EvidenceEntry, ReportDocument, ResultEntry
from harness.report.why import (
    NOT_SELECTED,
    Reason,
    collapsed_results,
    ordered_reasons,
    partial_run_line,
)
from harness.untrusted import clip_depth, cut_deep_json, strip_control

TEMPLATE = "report.html.j2"
# Inline script: the language toggle (the page is fully readable without it).
TOGGLE_JS = (
    "(function(){var root=document.documentElement;"
    "var saved=null;try{saved=localStorage.getItem('popcert-lang')}catch(e){}"
    "if(saved==='en'||saved==='vi'){root.setAttribute('data-lang',saved)}"
    "var button=document.getElementById('lang-toggle');"
    "button.addEventListener('click',function(){"
    "var next=root.getAttribute('data-lang')==='vi'?'en':'vi';"
    "root.setAttribute('data-lang',next);root.setAttribute('lang',next);"
    "try{localStorage.setItem('popcert-lang',next)}catch(e){}});})();"
)

# UI strings: (Vietnamese, English). Both are in the page; CSS shows one.
STRINGS: dict[str, tuple[str, str]] = {
    "title": ("Báo cáo chứng nhận kết nối CSDL quốc gia về dân cư",
              "National Population Database connection certification report"),
    "verdict": ("Kết luận", "Verdict"),
    "CERTIFIED": ("ĐẠT CHỨNG NHẬN", "CERTIFIED"),
    "NOT CERTIFIED": ("KHÔNG ĐẠT CHỨNG NHẬN", "NOT CERTIFIED"),
    "INCOMPLETE": ("CHƯA HOÀN TẤT", "INCOMPLETE"),
    "incomplete_banner": ("Lần kiểm tra chưa hoàn tất: kết quả dưới đây không đủ để chứng nhận.",
                          "This run did not finish: the results below cannot certify the system."),
    "reasons": ("Lý do", "Reasons"),
    "system": ("Hệ thống", "System"),
    "organisation": ("Cơ quan", "Organisation"),
    "level": ("Cấp", "Level"),
    "base_url": ("Địa chỉ", "Base URL"),
    "profile": ("Hồ sơ chứng nhận", "Certification profile"),
    "specs": ("Đặc tả", "Specifications"),
    "harness": ("Công cụ", "Harness"),
    "run": ("Lần chạy", "Run"),
    "started": ("Bắt đầu", "Started"),
    "finished": ("Kết thúc", "Finished"),
    "command": ("Lệnh", "Command"),
    "quick": ("Chế độ nhanh", "Quick mode"),
    "summary": ("Tổng hợp theo nhóm kiểm tra", "Summary by suite"),
    "suite": ("Nhóm", "Suite"),
    "outcome": ("Kết quả", "Outcome"),
    "total": ("Tổng", "Total"),
    "charts": ("Biểu đồ tải", "Load charts"),
    "failures": ("Kiểm tra không đạt", "Failed checks"),
    "no_failures": ("Không có kiểm tra nào không đạt.", "No check failed."),
    "all_results": ("Tất cả kết quả", "All results"),
    "severity": ("Mức độ", "Severity"),
    "requirement": ("Yêu cầu", "Requirement"),
    "status": ("Trạng thái", "Status"),
    "mandatory": ("Bắt buộc", "Mandatory"),
    "yes": ("Có", "Yes"),
    "no": ("Không", "No"),
    "evidence": ("Bằng chứng", "Evidence"),
    "reproduce": ("Tái hiện bằng lệnh", "Reproduce with"),
    "waivers": ("Miễn trừ", "Waivers"),
    "no_waivers": ("Không có miễn trừ.", "No waivers."),
    "waiver_valid": ("còn hiệu lực", "valid"),
    "waiver_expired": ("hết hiệu lực", "not valid on the run date"),
    "assessor": ("Người thẩm định", "Assessor"),
    "approved_on": ("Ngày duyệt", "Approved on"),
    "expires": ("Hết hạn", "Expires"),
    "reason": ("Lý do", "Reason"),
    "attestations": ("Xác nhận thủ công", "Manual attestations"),
    "no_attestations": ("Không có mục cần xác nhận.", "No attestation items."),
    "item": ("Mục", "Item"),
    "date": ("Ngày", "Date"),
    "statement": ("Nội dung", "Statement"),
    "required": ("Bắt buộc", "Required"),
    "signature_note": ("Tính toàn vẹn: kiểm tra chữ ký tách rời report.json.sig bằng `popcert verify`.",
                       "Integrity: check the detached signature report.json.sig with `popcert verify`."),
    "toggle": ("English", "Tiếng Việt"),
    "pass": ("đạt", "pass"), "fail": ("không đạt", "fail"), "error": ("lỗi", "error"),
    "skip": ("bỏ qua", "skip"),
    "attested": ("đã xác nhận", "attested"), "missing": ("thiếu", "missing"),
    "expired": ("hết hạn", "expired"),
    "critical": ("nghiêm trọng", "critical"), "high": ("cao", "high"),
    "medium": ("trung bình", "medium"), "low": ("thấp", "low"), "info": ("thông tin", "info"),
    "waived": ("đã miễn trừ", "waived"),
    "failed_checks": ("Kiểm tra không đạt", "Failed checks"),
    "check": ("Kiểm tra", "Check"),
    "title_col": ("Nội dung kiểm tra", "What is checked"),
    "token_hint": ("Đặt biến TOKEN bằng một token của dịch vụ cấp token quốc gia trước khi chạy lệnh.",
                   "Set TOKEN to a token from the national token service before running the command."),
    "latency_chart": ("Thời gian phản hồi p50/p95/p99", "Response time p50/p95/p99"),
    "endpoint_stats": ("Thống kê tải theo từng điểm cuối", "Load statistics per endpoint"),
    "endpoint": ("Điểm cuối", "Endpoint"), "requests": ("Số yêu cầu", "Requests"),
    "failures_col": ("Lỗi", "Failures"), "rps": ("Yêu cầu/giây", "req/s"),
    "all_endpoints": ("Tất cả", "All endpoints"),
    "limit": ("giới hạn", "limit"),
    "skipped_checks": ("kiểm tra bị bỏ qua", "checks skipped"),
    "partial_run": ("Lần chạy một phần", "Partial run"),
    "ev_request": ("yêu cầu", "request"), "ev_response": ("phản hồi", "response"),
    "ev_measurement": ("số đo", "measurement"), "ev_reproduction": ("tái hiện", "reproduction"),
    "ev_finding": ("phát hiện", "finding"), "ev_note": ("ghi chú", "note"),
    "ev_traceback": ("lỗi chương trình", "traceback"), "ev_chart": ("biểu đồ", "chart"),
    "errors_chart": ("Lỗi theo loại", "Errors by type"),
    "throughput_chart": ("Thông lượng", "Throughput"),
}
# Outcome texts in Vietnamese for statuses whose English summary comes from the check at run time.
SUMMARY_VI = {"error": "Không thể kết luận: kiểm tra gặp lỗi khi chạy (xem bằng chứng).",
              "skip": "Không áp dụng cho lần kiểm tra này."}
_REASONS_VI = (  # the shapes harness.profiles.decide writes; anything else stays English
    (re.compile(r"^(?P<id>[A-Z0-9][A-Z0-9-]+): mandatory check ended (?P<status>\w+)(?P<why> — .*)?$"),
     "{id}: kiểm tra bắt buộc có kết quả {status}{why}"),
    (re.compile(r"^(?P<id>[A-Z0-9][A-Z0-9-]+): mandatory check did not run$"),
     "{id}: kiểm tra bắt buộc không được chạy"),
    (re.compile(r"^attestation (?P<id>\S+) \((?P<title>.*)\) is missing$"),
     "thiếu xác nhận thủ công {id} ({title})"),
    (re.compile(r"^attestation (?P<id>\S+) \((?P<title>.*)\) expired on (?P<date>[0-9-]+): renew it$"),
     "xác nhận thủ công {id} ({title}) đã hết hạn ngày {date}: cần xác nhận lại"),
    (re.compile(r"^the run did not finish$"), "lần kiểm tra chưa hoàn tất"),
)
# Skip reasons the suites write, in Vietnamese; anything else keeps the generic sentence.
_SKIPS_VI = (
    (NOT_SELECTED, "nhóm kiểm tra {suite} không được chọn trong cấu hình chạy (--suite)"),
    (re.compile(r"^profile (?P<p>\S+) does not require mTLS \(mtls: (?P<m>\w+)\)$"),
     "hồ sơ {p} không yêu cầu mTLS (mtls: {m})"),
    (re.compile(r"^the profile sets no (?P<x>\S+)$"), "hồ sơ không đặt {x}"),
    (re.compile(r"^no address family of this ruleset concerns this check$"),
     "không họ địa chỉ nào của bộ quy tắc liên quan tới kiểm tra này"),
)
# Suite names (harness.suite_names) as a reader calls them.
SUITE_TITLES: dict[str, tuple[str, str]] = {
    "firewall": ("Tường lửa", "Firewall"),
    "sast": ("Phân tích mã nguồn (SAST)", "Source code analysis (SAST)"),
    "tls": ("Cấu hình TLS", "TLS configuration"),
    "auth": ("Xác thực và phân quyền", "Authentication and authorisation"),
    "conformance": ("Tuân thủ đặc tả API", "API conformance"),
    "scenario": ("Kịch bản nghiệp vụ với CSDL quốc gia", "Business scenarios with the NPDB"),
    "load": ("Khả năng chịu tải", "Load"),
}
# Chart titles and axes (load suite evidence): (Vietnamese, English), with units.
CHART_TITLES: dict[str, tuple[str, str]] = {
    "throughput": ("Thông lượng theo thời gian", "Throughput over time"),
    "response time p50/p95/p99 (rolling)": ("Thời gian phản hồi p50/p95/p99 (cửa sổ trượt)",
                                            "Response time p50/p95/p99 (rolling)"),
    "errors by type": ("Lỗi theo loại", "Errors by type"),
}
AXIS_LABELS: dict[str, tuple[str, str]] = {
    "s": ("Thời gian từ lúc bắt đầu (s)", "Time since start (s)"),
    "ms": ("Thời gian phản hồi (ms)", "Response time (ms)"),
    "req/s": ("Số yêu cầu mỗi giây (req/s)", "Requests per second (req/s)"),
    "occurrences": ("Số lần xảy ra", "Occurrences"),
    "error": ("Loại lỗi", "Error type"),
}
SERIES_LABELS: dict[str, tuple[str, str]] = {
    "ok_rps": ("thành công (req/s)", "successful (req/s)"),
    "failed_rps": ("thất bại (req/s)", "failed (req/s)"),
    "users": ("người dùng ảo", "virtual users"),
    "p50_ms": ("p50 (ms)", "p50 (ms)"), "p95_ms": ("p95 (ms)", "p95 (ms)"),
    "p99_ms": ("p99 (ms)", "p99 (ms)"),
}
# What a reproduction's shell variable holds, in Vietnamese (the English is in the evidence).
VARIABLES_VI = {
    "TOKEN": "một token hợp lệ của dịch vụ cấp token quốc gia (thông tin xác thực, không ghi ra)",
    "CA_BUNDLE": "chứng thư CA dùng để xác thực chứng thư máy chủ của hệ thống",
    "CLIENT_CERT": "tệp chứng thư máy khách mà yêu cầu đã xuất trình",
    "CLIENT_KEY": "tệp khóa riêng của chứng thư máy khách đó",
    "RUN_CONFIG": "cấu hình chạy (run.yaml) của lần kiểm tra này",
    "SOURCE_DIR": "thư mục mã nguồn của hệ thống (source.path trong cấu hình chạy)",
}
STATUSES = ("pass", "fail", "error", "skip")
SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}


def t(key: str) -> Markup:
    """Both languages of a UI string; CSS shows the chosen one."""
    vi, en = STRINGS.get(key, (key, key))
    return Markup('<span class="vi" lang="vi">{}</span><span class="en" lang="en">{}</span>').format(vi, en)


def check_vi(result: ResultEntry) -> dict[str, str]:
    """Vietnamese title and outcome of a result (catalogue_vi.yaml; English fallback)."""
    check = result.check
    entry = catalogue_vi().get(check.id, {})
    title = entry.get("title", check.title)
    status = result.status
    # A pass shows what was measured (the summary), not the check's text again.
    summary = {"pass": result.summary, "fail": entry.get("fail", result.summary),
               "skip": skip_vi(result.summary)}.get(
        status, SUMMARY_VI.get(status, result.summary))
    # A report from before checks named requirement ids: only the English prose exists.
    return {"title": title, "requirement": check.requirement,
            "summary": summary}


def skip_vi(reason: str) -> str:
    """A skip reason in Vietnamese: the known shapes translated, else the generic sentence."""
    for pattern, template in _SKIPS_VI:
        match = pattern.match(reason)
        if match:
            return template.format(**{k: v or "" for k, v in match.groupdict().items()})
    return SUMMARY_VI["skip"]


def both(vi: str, en: str) -> Markup:
    return Markup('<span class="vi" lang="vi">{}</span><span class="en" lang="en">{}</span>').format(
        vi, en)


def suite_name(suite: str) -> Markup:
    vi, en = SUITE_TITLES.get(suite, (suite, suite))
    return both(vi, en)


def why_line(line: Reason, anchored: set[str], titles_vi: dict[str, str]) -> Markup:
    """One line of "why not certified" in both languages (a suite's skips: one line)."""
    if line.kind != "skip" or line.suite is None:
        return reason_html(line.text, anchored, titles_vi)
    count = len(line.check_ids)
    why = line.text.split(" — ", 1)[1] if " — " in line.text else ""
    vi_why = ("nhóm không được chọn (--suite)" if why.startswith("the suite was not selected")
              else "; ".join(skip_vi(part) for part in why.split("; ")) if why else "")
    vi = f"{SUITE_TITLES.get(line.suite, (line.suite,))[0]}: {count} kiểm tra bắt buộc bị bỏ qua" \
        + (f" — {vi_why}" if vi_why else "")
    return both(vi, line.text)


def chart_view(evidence: EvidenceEntry) -> dict[str, Any]:
    """A chart's evidence with its title, axes and series named in both languages."""
    data = dict(evidence.fields)
    for axis in ("x_label", "y_label"):
        label = str(data.get(axis) or "")
        data[axis] = AXIS_LABELS.get(label, (label, label)) if label else ""
    data["series_labels"] = {name: SERIES_LABELS.get(name, (name, name))
                             for name in (data.get("series") or {})}
    vi, en = CHART_TITLES.get(evidence.title.lower(), (evidence.title, evidence.title))
    return {"data": data, "title_vi": vi, "title_en": en, "title": evidence.title}


def endpoint_table(results: tuple[ResultEntry, ...]) -> dict[str, Any] | None:
    """The load run's per-endpoint statistics (note "per-endpoint statistics"), for a table."""
    for result in results:
        for e in result.evidence:
            if e.kind == "note" and e.title == "per-endpoint statistics" and \
                    isinstance(e.fields.get("endpoints"), list):
                rows = [row for row in e.fields["endpoints"] if isinstance(row, dict)]
                total = e.fields.get("aggregated")
                return {"rows": rows, "total": total if isinstance(total, dict) else None,
                        "check": result.check.id}
    return None


def requirement_rows(result: ResultEntry) -> list[dict[str, str]]:
    """The requirement ids a result's check names, with their text and source from the
    catalogue (specs/requirements.yaml); empty for a report made before checks named ids."""
    from harness.requirements import load_catalogue

    catalogue = load_catalogue()
    rows = []
    for requirement_id in result.check.requirements or ():
        entry = catalogue.get(str(requirement_id))
        rows.append({"id": str(requirement_id),
                     "vi": entry.text.vi if entry else "", "en": entry.text.en if entry else "",
                     "source": entry.source.reference() if entry else ""})
    return rows


def reason_html(reason: str, anchored: set[str], attestation_titles: dict[str, str]) -> Markup:
    """A verdict reason in both languages, linked to the failed check it names."""
    text = strip_control(str(reason), keep_newlines=False)
    vi = text
    for pattern, template in _REASONS_VI:
        match = pattern.match(text)
        if match:
            fields = {k: v or "" for k, v in match.groupdict().items()}
            if "status" in fields:
                fields["status"] = STRINGS.get(fields["status"], (fields["status"],))[0]
            if "title" in fields:
                fields["title"] = attestation_titles.get(fields["id"], fields["title"])
            vi = template.format(**fields)
            break
    both = Markup('<span class="vi" lang="vi">{}</span><span class="en" lang="en">{}</span>').format(vi, text)
    check_id = text.split(":", 1)[0]
    if check_id in anchored:
        return Markup('<a href="#check-{}" class="reason-link">{}</a>').format(check_id, both)
    return both


def pretty(value: Any) -> str:
    """Bodies as readable text: JSON indented, everything else as given (escaped by jinja).

    Nesting is cut at MAX_EVIDENCE_DEPTH without recursion, so a hostile body nested thousands
    deep renders as a marker instead of crashing the report.
    """
    if value is None:
        return ""
    if isinstance(value, str):
        if not value.lstrip().startswith(("{", "[")):
            return value
        try:
            parsed = json.loads(cut_deep_json(value))
        except (ValueError, RecursionError):
            return value
        value = parsed
    try:
        return json.dumps(clip_depth(value), indent=2, ensure_ascii=False, sort_keys=True)
    except (TypeError, ValueError, RecursionError):
        return str(clip_depth(value))


def _finalize(value: Any) -> Any:
    """Every ``{{ }}`` output: SUT- and vendor-supplied text loses control characters and escapes."""
    if value is None or isinstance(value, (Markup, bool, int, float, Undefined)):
        return value  # Markup is built here (t(), charts) from already-cleaned parts
    return strip_control(value if isinstance(value, str) else str(clip_depth(value)))


@lru_cache(maxsize=1)
def _environment() -> Environment:
    """One environment per process: it keeps the compiled template (a run renders after every
    suite)."""
    env = Environment(loader=FileSystemLoader(str(TEMPLATE_DIR)), undefined=StrictUndefined,
                      autoescape=select_autoescape(default=True, default_for_string=True),
                      finalize=_finalize,
                      trim_blocks=True, lstrip_blocks=True)
    env.globals.update(t=t, STATUSES=STATUSES, TOGGLE_JS=Markup(TOGGLE_JS),
                       EV_KINDS={k for k in STRINGS if k.startswith("ev_")},
                       VARIABLES_VI=VARIABLES_VI)
    env.filters.update(pretty=pretty, chart=lambda data, title="": chart_svg(data or {}, title),
                       esc=escape, skip_vi=skip_vi)
    return env


def _csp() -> str:
    digest = base64.b64encode(hashlib.sha256(TOGGLE_JS.encode("utf-8")).digest()).decode("ascii")
    return (f"default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
            f"script-src 'sha256-{digest}'; base-uri 'none'; form-action 'none'")


def _is_waived(result: ResultEntry) -> bool:
    return result.waived


def view_model(report: ReportDocument) -> dict[str, Any]:
    """What the template needs, derived from the canonical report only."""
    results = report.results
    attention = [r for r in results if r.status in ("fail", "error")]
    attention.sort(key=lambda r: (not r.mandatory, SEVERITY_ORDER.get(r.check.severity, 9),
                                  r.check.id))
    anchored = {r.check.id for r in attention}
    # One chart per title and series: the load checks share their throughput and latency charts.
    charts, seen = [], set()
    for r in results:
        for e in r.evidence:
            if e.kind != "chart" or not isinstance(e.data, dict):
                continue
            key = (e.title, tuple(sorted(e.fields.get("series") or {})))
            if key not in seen:
                seen.add(key)
                charts.append((r.check.id, e))
    failed_by_suite: dict[str, list[ResultEntry]] = {}
    for r in attention:
        failed_by_suite.setdefault(r.check.suite, []).append(r)
    titles_vi = {a.item_id: a.title_vi or a.title for a in report.attestations}
    return {
        "reasons": ordered_reasons(report.verdict.reasons, results),
        "why_line": lambda line: why_line(line, anchored, titles_vi),
        "partial": partial_run_line(report),
        "rows": collapsed_results(results),
        "endpoints": endpoint_table(results),
        "chart_view": chart_view, "suite_name": suite_name, "skip_vi": skip_vi,
        "report": report, "run": report.run, "verdict": report.verdict,
        "attention": attention, "charts": charts, "anchored": anchored,
        "failed_by_suite": failed_by_suite,
        "suites": sorted(report.summary.by_suite.items()),
        "waived": [r for r in results if r.waiver is not None],
        "results": sorted(results, key=lambda r: (r.check.suite, r.check.id)),
        "attestations": report.attestations,
        "reason_html": lambda reason: reason_html(reason, anchored, titles_vi),
        "check_vi": check_vi, "requirement_rows": requirement_rows,
        "is_waived": _is_waived,
        "csp": _csp(),
    }


def render_html(report: ReportDocument) -> str:
    return _environment().get_template(TEMPLATE).render(**view_model(report))
