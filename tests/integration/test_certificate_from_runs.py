"""A certificate from real runs (issue 21 bars): refused for `popcert demo`'s report, issued for a
full run of a lab target when the assessor passes --allow-lab-target with a reason.

Both runs go through the engine as `popcert demo` and `popcert certify` do, then `popcert sign`,
`popcert verify` and `popcert certificate issue` on the command line.

Bounded on purpose: the demo certifies the sast suite only, and the full run uses a profile whose
mandatory checks are the SAST ones with the sast suite selected. The refusals under test are
about the run's mode, its target, whose system and whose attestations it certifies, never about
which suites ran: every other check of popcert's registry is still in the report (`skip`, suite
not selected), so the verdict is re-derived over the whole registry as for any run; a full run
of every suite would only take minutes more and prove nothing else here.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner

from harness import profiles, resources
from harness.commands.main import app
from harness.config import config_from_dict
from harness.engine import Engine
from harness.signing.keys import keys_new
from harness.signing.trust import trust_key

runner = CliRunner()
BANNER = "DEMO / QUICK RUN: not a certification"


@pytest.fixture
def assessor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A trusted assessor key, and a registry and seen-checkpoint store of the test's own."""
    monkeypatch.setenv("POPCERT_TRUST_STORE", str(tmp_path / "trusted"))
    monkeypatch.setenv("POPCERT_REGISTRY", str(tmp_path / "registry.sqlite3"))
    monkeypatch.setenv("POPCERT_CHECKPOINTS", str(tmp_path / "seen"))
    pair = keys_new(tmp_path / "keys", "assessor")
    trust_key(pair.public_key, tmp_path / "trusted")
    return pair.private_key


def _popcert(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def test_certificate_issue_refuses_a_popcert_demo_report(assessor: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.runner import run_demo

    monkeypatch.setattr(resources, "default_output_dir", lambda: tmp_path / "runs")
    terminal = io.StringIO()
    outcome = run_demo(defects=frozenset(), quick=True, suites=["sast"], level="district",
                       console=Console(file=terminal, width=200), workdir=tmp_path / "demo")
    report = outcome.run_dir / "report.json"
    document = json.loads(report.read_bytes())
    assert document["run"]["mode"] == "demo" and document["banner"]["en"] == BANNER
    assert document["banner"]["vi"] == "CHẠY THỬ / CHẠY NHANH: không phải là chứng nhận"
    assert document["run"]["example_inputs"] == ["attestations"]
    # said when the demo starts, when the quick run starts, and above the verdict
    assert terminal.getvalue().count(BANNER) == 3, terminal.getvalue()
    html = (outcome.run_dir / "report.html").read_text(encoding="utf-8")
    assert 'id="demo-banner"' in html and BANNER in html
    assert html.index('id="demo-banner"') < html.index('id="verdict"')

    code, out = _popcert("sign", str(report), "--key", str(assessor))
    assert code == 0, out  # a demo report is what its run produced: it may be signed
    code, out = _popcert("verify", str(report))
    assert code == 0 and out.startswith(BANNER), out

    code, out = _popcert("certificate", "issue", str(report), "--key", str(assessor),
                         "--assessor", "Demo", "--allow-lab-target", "demo")
    assert code == 2, out
    for reason in ("`popcert demo` run of the bundled reference system",
                   "bundled reference city system (its name",
                   "marked as popcert's shipped example"):
        assert reason in out, (reason, out)
    assert not (outcome.run_dir / "certificate.json").exists()


LAB_PROFILE = """\
# A profile of the test's own: the SAST checks mandatory, nothing to attest (see the module doc).
name: lab-sast
version: "1.0"
title_vi: "Phòng thí nghiệm (SAST)"
title_en: "Lab (SAST)"
validity_days: 30
mandatory: ["SAST-*"]
thresholds:
  sast: {min_severity: medium, min_confidence: medium}
"""


def _lab_profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "profiles"
    folder.mkdir()
    for shipped in profiles.PROFILES_DIR.glob("*.yaml"):
        (folder / shipped.name).write_bytes(shipped.read_bytes())
    (folder / "lab-sast.yaml").write_text(LAB_PROFILE, encoding="utf-8")
    monkeypatch.setattr(profiles, "PROFILES_DIR", folder)
    monkeypatch.setattr(resources, "profiles_dir", lambda: folder)


def _vendor_system(root: Path) -> dict[str, Any]:
    """A vendor's own (tiny) system: its source, its ruleset, its attestations; on 127.0.0.1."""
    source = root / "src" / "tthc"
    source.mkdir(parents=True)
    (source / "__init__.py").write_text('"""TTHC portal."""\n', encoding="utf-8")
    (source / "fees.py").write_text(
        '"""Fees of administrative procedures."""\n\n\n'
        "def fee(pages: int) -> int:\n    return 2000 * max(pages, 1)\n", encoding="utf-8")
    ruleset = root / "ruleset.iptables"
    ruleset.write_text("*filter\n:INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n"
                       "-A INPUT -i lo -j ACCEPT\n-A INPUT -p tcp --dport 443 -j ACCEPT\nCOMMIT\n",
                       encoding="utf-8")
    return {"system": {"name": "Cổng TTHC (phòng lab của nhà cung cấp)",
                       "organisation": "Công ty Phần mềm Ví Dụ", "level": "district"},
            "profile": "lab-sast", "target": {"base_url": "https://127.0.0.1:9"},
            "source": {"path": str(root / "src")}, "firewall": {"ruleset": str(ruleset)},
            "suites": ["sast"], "quick": False, "seed": 11, "output_dir": str(root / "runs")}


def test_full_run_of_a_lab_target_is_certified_with_the_option_recorded(
        assessor: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _lab_profile(tmp_path, monkeypatch)
    config = config_from_dict(_vendor_system(tmp_path / "vendor"), tmp_path, label="run.yaml")
    outcome = Engine(config, command="popcert certify -c run.yaml").run()
    assert outcome.verdict.status == "CERTIFIED", outcome.verdict.reasons
    report = outcome.run_dir / "report.json"
    document = json.loads(report.read_bytes())
    assert document["run"]["mode"] == "full" and "banner" not in document
    assert 'id="demo-banner"' not in (outcome.run_dir / "report.html").read_text(encoding="utf-8")
    assert _popcert("sign", str(report), "--key", str(assessor))[0] == 0
    code, out = _popcert("verify", str(report))
    assert code == 0 and out.startswith("VALID"), out

    code, out = _popcert("certificate", "issue", str(report), "--key", str(assessor),
                         "--assessor", "Nguyễn Thị Minh Anh")
    assert code == 2 and "127.0.0.1 is a loopback address" in out and "--allow-lab-target" in out

    reason = "vendor's isolated pre-production lab; production is certified separately"
    code, out = _popcert("certificate", "issue", str(report), "--key", str(assessor),
                         "--assessor", "Nguyễn Thị Minh Anh", "--allow-lab-target", reason)
    assert code == 0, out
    certificate = json.loads((outcome.run_dir / "certificate.json").read_bytes())
    assert certificate["lab_target"]["reason"] == reason
    assert certificate["run"]["mode"] == "full" and certificate["run"]["seed"] == 11
    assert certificate["run"]["quick"] is False and certificate["run"]["load_duration_s"] is None
    assert certificate["profile"]["name"] == "lab-sast"
    assert certificate["specs"] == document["specs"]
    code, out = _popcert("certificate", "verify", str(outcome.run_dir / "certificate.json"))
    assert code == 0 and "VALID" in out, out
