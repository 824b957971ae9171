"""Reports survive any content: deep nesting, terminal escapes and control characters from the SUT.

A 3 KB body nested 1,500 deep used to crash html.pretty and `popcert report RUN_DIR` with
RecursionError (exit 2, no verdict). Every renderer, the rebuild and the signature check now cut
nesting without recursion, and the page shows no control character the SUT sent.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import pytest
from typer.testing import CliRunner

from harness.checks import Evidence
from harness.config import RunConfig
from harness.errors import PopcertError
from harness.report.render import render_all
from harness.report.sign import sign_report, verify
from harness.signing.keys import keys_new, load_private_key
from tests.unit.report.sample_report import as_run_wrote_it, registered_certified_report, sample_report

DEPTH = 1500
DEEP_TEXT = '{"a":' * DEPTH + "1" + "}" * DEPTH  # 7.5 KB of JSON text
ANSI_NAME = "src/\x1b[2J\x1b[31mevil\x1b]0;pwned\x07.py\u202e"


def _deep_dict(depth: int = DEPTH) -> dict[str, Any]:
    root: dict[str, Any] = {}
    node = root
    for _ in range(depth):
        node["a"] = {}
        node = node["a"]
    return root


def _hostile_report() -> dict[str, Any]:
    report = sample_report()
    result = next(r for r in report["results"] if r["status"] == "fail")
    result["evidence"].append(Evidence.response(200, {"X-Evil": "\x1b[31mred\x1b[0m"},
                                                body=DEEP_TEXT).to_json())
    # Written around the Evidence constructor, as a report read back from disk could be.
    result["evidence"].append({"kind": "note", "title": "raw", "data": {"deep": _deep_dict()}})
    result["evidence"].append(Evidence.finding(ANSI_NAME, 3, "B105", "password \x1b[8mhidden").to_json())
    result["summary"] = "answered \x1b[1;31mOK\x1b[0m\x07 with \x00nul"
    return report


def test_deep_json_renders_every_format(tmp_path: Path) -> None:
    files = render_all(_hostile_report(), tmp_path)
    assert set(files) == {"html", "json", "junit", "sarif"}
    html = files["html"].read_text(encoding="utf-8")
    assert "nested deeper than" in html
    json.loads(files["json"].read_text(encoding="utf-8"))
    json.loads(files["sarif"].read_text(encoding="utf-8"))


def test_html_carries_no_control_characters_from_the_sut(tmp_path: Path) -> None:
    html = render_all(_hostile_report(), tmp_path, formats=["html"])["html"].read_text(encoding="utf-8")
    assert not any(ch in html for ch in ("\x1b", "\x07", "\x00", "\u202e"))
    assert "evil" in html and "answered OK with nul" in html


def test_deep_report_signs_and_verifies(tmp_path: Path) -> None:
    # A whole run's report (`popcert sign` refuses anything else) with the hostile evidence.
    report = registered_certified_report()
    report["results"][0]["evidence"] = next(
        r for r in _hostile_report()["results"] if r["status"] == "fail")["evidence"]
    files = render_all(as_run_wrote_it(report), tmp_path, formats=["json"])
    pair = keys_new(tmp_path / "keys", "assessor")
    signature = sign_report(files["json"], pair.private_key)
    outcome = verify(files["json"], signature, pair.public_key, known={}, harness_versions={"0.1.0"})
    assert outcome.signature_ok


def test_verify_refuses_a_report_nested_deeper_than_any_popcert_report(tmp_path: Path) -> None:
    report_path = tmp_path / "report.json"
    report_path.write_text('{"verdict":' + "[" * DEPTH + "]" * DEPTH + "}", encoding="utf-8")
    pair = keys_new(tmp_path / "keys", "assessor")
    with pytest.raises(PopcertError, match="nests deeper"):
        sign_report(report_path, pair.private_key)
    signature = tmp_path / "report.json.sig"
    signature.write_bytes(load_private_key(pair.private_key).sign(report_path.read_bytes()))
    outcome = verify(report_path, signature, pair.public_key, known={}, harness_versions={"0.1.0"})
    assert outcome.signature_ok and not outcome.valid
    assert any("nests deeper" in reason for reason in outcome.reasons)


def test_popcert_report_rebuilds_a_run_with_deep_evidence(tmp_path: Path) -> None:
    from harness.commands.main import app

    run_dir = tmp_path / "runs" / "city" / "run-1"
    run_dir.mkdir(parents=True)
    config = RunConfig.model_validate({
        "system": {"name": "City", "organisation": "tests", "level": "district"},
        "target": {"base_url": "https://127.0.0.1:8443"}, "suites": ["auth"]})
    (run_dir / "config.json").write_text(config.model_dump_json(), encoding="utf-8")
    record = {"check": {"id": "AUTH-TOKEN-MISSING", "suite": "auth", "title": "t", "severity": "critical",
                        "requirement": "r", "defects": []},
              "mandatory": True, "status": "fail", "summary": "deep \x1b[31mbody\x1b[0m",
              "evidence": [{"kind": "response", "title": "response",
                            "data": {"status": 200, "headers": {}, "body": "DEEP",
                                     "elapsed_ms": 3.0}}],
              "measurements": {}, "started_at": "2025-04-01T09:00:00+07:00", "duration_s": 0.5}
    # json.dumps refuses 1,500 levels too: the deep body goes in as text.
    line = json.dumps(record).replace('"DEEP"', DEEP_TEXT)
    (run_dir / "results.jsonl").write_text(line + "\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["report", str(run_dir)])
    assert result.exit_code == 0, result.output
    report = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))
    assert report["verdict"]["status"] == "INCOMPLETE"
    assert "nested deeper than" in (run_dir / "report.html").read_text(encoding="utf-8")


def test_terminal_lines_carry_no_escape_from_the_sut() -> None:
    import io

    from rich.console import Console

    from harness.checks import CheckResult
    from harness.profiles import Verdict
    from harness.registry import default_registry
    from harness.report_model import RecordedResult
    from harness.runner import RichProgress, print_verdict
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=200)
    summary = "SUT said \x1b[2J\x1b[1;32mCERTIFIED\x1b[0m\x1b]0;pwned\x07\x08\r [bold]x[/bold]\u202e"
    record = RecordedResult(default_registry()["AUTH-TOKEN-MISSING"], CheckResult.failed(summary), True,
                            "2025-04-01T09:00:00+07:00", 0.2)
    RichProgress(console).result(record)

    class Outcome:
        verdict = Verdict("NOT CERTIFIED", (f"AUTH-TOKEN-MISSING: {summary}",), ())
        files: ClassVar[dict[str, Path]] = {}
        run_dir = Path("/tmp/run")

    print_verdict(Outcome(), console)  # type: ignore[arg-type]
    text = out.getvalue()
    # rich's own colour codes remain; none of the SUT's sequences, BEL, BS, CR or bidi do.
    assert "\x1b[2J" not in text and "\x1b]0;" not in text and "pwned\x07" not in text
    assert not any(ch in text for ch in ("\x07", "\x08", "\r", "\u202e"))
    assert "[bold]x[/bold]" in text  # shown literally, not as markup
    assert "SUT said CERTIFIED" in text


def test_junit_and_sarif_carry_no_terminal_escape(tmp_path: Path) -> None:
    files = render_all(_hostile_report(), tmp_path, formats=["junit", "sarif"])
    junit = files["junit"].read_text(encoding="utf-8")
    sarif = json.loads(files["sarif"].read_text(encoding="utf-8"))
    messages = "".join(r["message"]["text"] for r in sarif["runs"][0]["results"])
    for text in (junit, messages):
        assert "\x1b" not in text and "[31m" not in text and "\x07" not in text
    assert "answered OK with nul" in messages
    uris = json.dumps([r["locations"] for r in sarif["runs"][0]["results"]])
    assert "\\u001b" not in uris and "evil" not in uris  # a file name with escapes is no location
