"""The HTML certificate: one self-contained, bilingual (vi/en) page rendered with jinja2.

Autoescape is on for everything: evidence carries what the SUT sent (HTML, scripts, headers) and
must stay inert. A Content-Security-Policy allowing only the page's own script (by hash) is a
second line of defence, and forbids every network fetch so the page is readable offline.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    Undefined,
    select_autoescape,
)
from markupsafe import Markup, escape

from harness.report.charts import line_chart_svg
from harness.report.document import TEMPLATE_DIR
from harness.report.untrusted import clip_depth, cut_deep_json, strip_control

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
    "skip": ("bỏ qua", "skip"), "manual": ("thủ công", "manual"),
    "attested": ("đã xác nhận", "attested"), "missing": ("thiếu", "missing"),
    "expired": ("hết hạn", "expired"),
}
STATUSES = ("pass", "fail", "error", "skip", "manual")
SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}


def t(key: str) -> Markup:
    """Both languages of a UI string; CSS shows the chosen one."""
    vi, en = STRINGS.get(key, (key, key))
    return Markup('<span class="vi" lang="vi">{}</span><span class="en" lang="en">{}</span>').format(vi, en)


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
    env.filters.update(pretty=pretty, chart=lambda data, title="": line_chart_svg(data or {}, title),
                       esc=escape)
    return env


def _csp() -> str:
    digest = base64.b64encode(hashlib.sha256(TOGGLE_JS.encode("utf-8")).digest()).decode("ascii")
    return (f"default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
            f"script-src 'sha256-{digest}'; base-uri 'none'; form-action 'none'")


def view_model(report: dict[str, Any]) -> dict[str, Any]:
    """What the template needs, derived from the canonical report only."""
    results = report.get("results", [])
    attention = [r for r in results if r["status"] in ("fail", "error")]
    attention.sort(key=lambda r: (not r["mandatory"], SEVERITY_ORDER.get(r["check"]["severity"], 9),
                                  r["check"]["id"]))
    charts = [(r["check"]["id"], e) for r in results for e in r["evidence"] if e["kind"] == "chart"]
    by_suite = report.get("summary", {}).get("by_suite", {})
    return {
        "report": report, "run": report["run"], "verdict": report["verdict"],
        "attention": attention, "charts": charts,
        "suites": sorted(by_suite.items()),
        "waived": [r for r in results if r.get("waiver")],
        "results": sorted(results, key=lambda r: (r["check"]["suite"], r["check"]["id"])),
        "attestations": report.get("attestations", []),
        "csp": _csp(),
    }


def render_html(report: dict[str, Any]) -> str:
    return _environment().get_template(TEMPLATE).render(**view_model(report))
