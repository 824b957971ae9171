"""build_report is pure: the run's facts are gathered once (gather_run_facts, locate_findings) and
building the document touches no disk, no working directory and no clock."""

from __future__ import annotations

import builtins
import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from harness.checks import CheckResult, Evidence
from harness.config import config_from_dict
from harness.profiles import load_profile
from harness.registry import default_registry
from harness.report.document import ReportDocument, schema_errors
from harness.report_model import (
    RecordedResult,
    RunEnd,
    RunFacts,
    build_report,
    gather_run_facts,
    locate_findings,
)

STARTED = datetime(2026, 2, 1, 9, 0, tzinfo=UTC)
WAIVERS = """waivers:
  - {check_id: SAST-SECRETS, reason: "test fixture, not a real secret", assessor: "Phạm Minh Tuấn",
     approved_on: 2026-01-01, expires: 2026-12-31}
"""


@pytest.fixture
def facts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> RunFacts:
    (tmp_path / "src" / "app").mkdir(parents=True)
    (tmp_path / "src" / "app" / "settings.py").write_text("PASSWORD = 'x'\n", encoding="utf-8")
    (tmp_path / "rules.iptables").write_text("*filter\n:INPUT DROP [0:0]\nCOMMIT\n", encoding="utf-8")
    (tmp_path / "waivers.yaml").write_text(WAIVERS, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    config = config_from_dict({
        "system": {"name": "Pure", "organisation": "tests", "level": "district"},
        "target": {"base_url": "https://127.0.0.1:9"}, "source": {"path": "src"},
        "firewall": {"ruleset": "rules.iptables"}, "assessor": {"waivers": "waivers.yaml"},
        "output_dir": str(tmp_path / "runs")}, tmp_path)
    return gather_run_facts(config, load_profile("district"), default_registry().ids(),
                            run_id="pure/1", started=STARTED, today=date(2026, 2, 1),
                            command="popcert certify")


def _records(facts: RunFacts) -> list[RecordedResult]:
    registry = default_registry()
    made = [
        RecordedResult(registry["SAST-SECRETS"], CheckResult.failed(
            "a secret", Evidence.finding("app/settings.py", 1, "password-assignment", "literal")),
            True, "2026-02-01T09:01:00+00:00", 0.5),
        RecordedResult(registry["AUTH-TOKEN-MISSING"], CheckResult.passed("refused"), True,
                       "2026-02-01T09:02:00+00:00", 0.1),
    ]
    return [locate_findings(record, facts) for record in made]


@contextmanager
def no_io(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Any file, directory or working-directory access raises while the block runs."""
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"build_report did I/O: {args[:2]!r}")

    with monkeypatch.context() as patch:
        for owner, name in ((builtins, "open"), (io, "open"), (os, "open"), (os, "stat"),
                            (os, "lstat"), (os, "scandir"), (os, "listdir"), (os, "walk"),
                            (os, "getcwd"), (Path, "cwd"), (Path, "resolve"), (Path, "stat"),
                            (Path, "is_file"), (Path, "exists"), (Path, "read_bytes"),
                            (Path, "read_text"), (Path, "open")):
            patch.setattr(owner, name, refuse)
        yield


def test_build_report_does_no_io(facts: RunFacts, monkeypatch: pytest.MonkeyPatch) -> None:
    records = _records(facts)
    end = RunEnd(complete=True, finished_at=datetime(2026, 2, 1, 9, 30, tzinfo=UTC))
    with no_io(monkeypatch):
        document = build_report(facts, records, end)
        again = build_report(facts, records, end)
    assert document == again  # no clock either: the same inputs give the same document
    assert schema_errors(document.to_json()) == []
    assert ReportDocument.from_json(document.to_json()) == ReportDocument.from_json(again.to_json())
    # What the facts gathered shows in the document.
    assert document.run.fingerprints is not None
    assert document.run.fingerprints.firewall_ruleset is not None
    assert document.run.fingerprints.source_tree is not None
    assert document.run.finished_at == "2026-02-01T09:30:00+00:00"
    secret = document.results[0]
    assert secret.evidence[0].data["repo_path"] == "src/app/settings.py"
    assert secret.waiver is not None and secret.waived
    assert set(document.specs) == set(facts.specs) and document.harness.version


def test_an_unfinished_run_has_no_finish_time(facts: RunFacts) -> None:
    document = build_report(facts, _records(facts), RunEnd(
        complete=False, interrupted="stopped", finished_at=STARTED))
    assert document.run.finished_at is None and document.run.interrupted == "stopped"
    assert document.verdict.status == "INCOMPLETE"


def test_facts_are_gathered_once_whatever_changes_later(facts: RunFacts, tmp_path: Path) -> None:
    before = build_report(facts, [], RunEnd(complete=False))
    (tmp_path / "src" / "app" / "settings.py").write_text("PASSWORD = 'changed'\n", encoding="utf-8")
    os.chdir(tmp_path / "src")
    after = build_report(facts, [], RunEnd(complete=False))
    assert after.run.fingerprints == before.run.fingerprints
    assert after.system == before.system


@pytest.mark.parametrize("location", ["a" * 5000, "bad\x00name", "../../etc/passwd",
                                      "https://example.invalid/x"])
def test_a_hostile_finding_location_is_just_not_located(facts: RunFacts, location: str) -> None:
    record = RecordedResult(default_registry()["FW-NO-ANY-ANY"], CheckResult.failed(
        "x", Evidence.finding(location, 1, "rule", "message")), True, "2026-02-01T09:01:00+00:00", 0.1)
    assert locate_findings(record, facts).repo_paths == ()


GOLDEN = Path(__file__).with_name("golden_report.json")


def golden_facts() -> tuple[RunFacts, list[RecordedResult]]:
    """Facts and records made by hand (no registry, no shipped profile or spec): the bytes below
    change only when the report's format does."""
    from harness.assessor import Attestation, Waiver
    from harness.checks import Check, Severity
    from harness.profiles import AttestationItem, Profile
    from harness.report.document import Fingerprints, SpecEntry, SystemEntry

    def never(ctx: Any) -> CheckResult:
        return CheckResult.errored("not run")

    secret = Check("SAST-T-SECRET", "sast", "No secret in the source", Severity.HIGH,
                   "secrets stay out of source", never, ("sast.secret",), requirements=("SAST-01",))
    token = Check("AUTH-T-TOKEN", "auth", "A request without a token is refused", Severity.CRITICAL,
                  "connection/v1 §security", never)
    profile = Profile(name="golden", version="1.0", title_vi="Vàng", title_en="Golden",
                      mandatory=["SAST-*", "AUTH-*"],
                      attestations=[AttestationItem(id="plan", title_vi="Phương án", title_en="Plan"),
                                    AttestationItem(id="pentest", title_vi="Kiểm thử", title_en="Pentest",
                                                    required=False)])
    facts = RunFacts(
        run_id="golden/1", started=STARTED, command="popcert certify -c run.yaml", quick=False,
        seed=6, registered=("AUTH-T-TOKEN", "AUTH-T-UNRUN", "SAST-T-SECRET"),
        fingerprints=Fingerprints("sha256:" + "a" * 64, None),
        system=SystemEntry("Hệ thống vàng", "UBND", "district", "https://127.0.0.1:9", "ci/run.yaml"),
        profile=profile, specs={"npdb": SpecEntry("v1", "1" * 64)}, harness_version="9.9.9",
        today=date(2026, 2, 1),
        waivers=(Waiver(check_id="SAST-T-SECRET", reason="fixture, not a secret",
                        assessor="Phạm Minh Tuấn", approved_on=date(2026, 1, 1),
                        expires=date(2026, 12, 31)),),
        attestations=(Attestation(item_id="plan", assessor="Lê Thị Hoa", date=date(2026, 1, 5),
                                  statement="connection plan reviewed", expires=date(2026, 6, 1)),),
        root=Path("/nonexistent"), source_path=None)
    records = [
        RecordedResult(secret, CheckResult.failed(
            "a secret", Evidence.finding("app/settings.py", 1, "password", "literal"),
            Evidence.chart("Latency", {"p50": [(0, 1.5), (1, 2)]}, x_label="s", y_label="ms"),
            rps=1.5, count=3), True, "2026-02-01T09:01:00+00:00", 0.5,
            repo_paths=("src/app/settings.py", None)),
        RecordedResult(token, CheckResult.failed("accepted without a token", Evidence.request(
            "GET", "https://127.0.0.1:9/x", {"Authorization": "Bearer abc.def.ghi"})), True,
            "2026-02-01T09:02:00+00:00", 0.25),
    ]
    return facts, records


def test_report_bytes_are_those_the_format_promises() -> None:
    """report.json's bytes for fixed facts: signatures and old reports depend on them. The file
    was checked equal, byte for byte, to what the dict-building build_report of 0593cda wrote."""
    facts, records = golden_facts()
    document = build_report(facts, records, RunEnd(True, None, datetime(2026, 2, 1, 9, 30, tzinfo=UTC)))
    assert schema_errors(document.to_json()) == []
    assert document.canonical_bytes() == GOLDEN.read_bytes()
