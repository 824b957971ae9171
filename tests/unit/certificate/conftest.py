"""An assessor with a trusted key, a signed CERTIFIED report with fingerprints, an empty registry."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from harness.certificate.registry import Registry
from harness.profiles import load_profile
from harness.report import sign as signing
from harness.signing.canonical import canonical_json
from harness.signing.keys import keys_new
from harness.signing.trust import trust_key
from tests.unit.report.sample_report import as_run_wrote_it, doc, registered_certified_report

FIREWALL_FP = "sha256:" + "a" * 64
SOURCE_FP = "sha256:" + "b" * 64


@dataclass
class Lab:
    root: Path
    key: Path
    public_key: Path
    trust_store: Path
    registry: Registry

    def report(self, document: dict[str, Any], name: str = "run", sign: bool = True) -> Path:
        path = self.root / name / "report.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(canonical_json(document))
        if sign:
            signing.sign_report(path, self.key)
        return path


def certified(profile: str = "district", *, fingerprints: bool = True,
              system: str | None = None) -> dict[str, Any]:
    report = registered_certified_report(profile)
    report["run"]["complete"] = True
    # A full run of a deployed system (issue 21: a quick or demo run, a lab address, a short load
    # test are refused; tests/unit/certificate/test_eligibility.py): the profile's own load
    # duration, and a name in the reserved .example domain that no traffic ever reaches.
    report["run"]["load_duration_s"] = float(load_profile(profile).thresholds["load"]["duration_s"])
    report["system"]["base_url"] = "https://tthc.hanoi.example"
    if fingerprints:
        report["run"]["fingerprints"] = {"firewall_ruleset": FIREWALL_FP, "source_tree": SOURCE_FP}
    if system:
        report["system"]["name"] = system
    return report


def not_certified() -> dict[str, Any]:
    """A verifiable report whose verdict is NOT CERTIFIED: one mandatory check failed."""
    from harness.report.rederive import rederived_verdict

    report = certified()
    failed = next(r for r in report["results"] if r["mandatory"])
    failed["status"], failed["summary"] = "fail", "the SUT accepted alg none"
    report["summary"]["by_status"] = {"pass": len(report["results"]) - 1, "fail": 1}
    report["summary"]["by_suite"][failed["check"]["suite"]]["pass"] -= 1
    report["summary"]["by_suite"][failed["check"]["suite"]]["fail"] = 1
    as_run_wrote_it(report)
    report["verdict"] = rederived_verdict(doc(report)).to_json()
    return report


def make_lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Lab:
    store = tmp_path / "trusted"
    monkeypatch.setenv("POPCERT_TRUST_STORE", str(store))
    monkeypatch.setenv("POPCERT_REGISTRY", str(tmp_path / "registry.sqlite3"))
    monkeypatch.setenv("POPCERT_CHECKPOINTS", str(tmp_path / "seen-checkpoints"))
    pair = keys_new(tmp_path / "keys", "assessor")
    trust_key(pair.public_key, store)
    return Lab(tmp_path, pair.private_key, pair.public_key, store,
               Registry(tmp_path / "registry.sqlite3"))


@pytest.fixture
def lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Lab:
    return make_lab(tmp_path, monkeypatch)
