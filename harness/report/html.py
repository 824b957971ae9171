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
from harness.report.document import TEMPLATE_DIR, ReportDocument, ResultEntry
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
    summary = {"pass": title, "fail": entry.get("fail", result.summary)}.get(
        status, SUMMARY_VI.get(status, result.summary))
    # A report from before checks named requirement ids: only the English prose exists.
    return {"title": title, "requirement": check.requirement,
            "summary": summary}


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


def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(str(TEMPLATE_DIR)), undefined=StrictUndefined,
                      autoescape=select_autoescape(default=True, default_for_string=True),
                      finalize=_finalize,
                      trim_blocks=True, lstrip_blocks=True)
    env.globals.update(t=t, STATUSES=STATUSES, TOGGLE_JS=Markup(TOGGLE_JS))
    env.filters.update(pretty=pretty, chart=lambda data, title="": chart_svg(data or {}, title),
                       esc=escape)
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
