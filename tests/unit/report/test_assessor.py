"""Waivers and attestations: validity windows, the verdict rule, and errors naming file+field+fix."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from harness.assessor import (
    Attestation,
    Waiver,
    attestation_entries,
    load_attestations,
    load_waivers,
    waiver_for,
)
from harness.errors import ConfigError
from harness.report.document import REPO_ROOT

EXAMPLES = REPO_ROOT / "examples" / "assessor"


def _waiver(**kw: object) -> Waiver:
    base = {"check_id": "LOAD-LATENCY-P99", "reason": "nightly batch moves off-peak", "assessor": "Lan",
            "approved_on": date(2025, 3, 1), "expires": date(2025, 6, 30)}
    return Waiver.model_validate({**base, **kw})


def test_examples_load() -> None:
    waivers = load_waivers(EXAMPLES / "waivers.yaml")
    attestations = load_attestations(EXAMPLES / "attestations.yaml")
    assert [w.check_id for w in waivers] == ["LOAD-LATENCY-P99", "TLS-HSTS"]
    assert attestations[0].item_id == "connection-plan" and attestations[1].expires == date(2026, 3, 2)


def test_waiver_is_valid_only_inside_its_window() -> None:
    waiver = _waiver()
    assert not waiver.valid_on(date(2025, 2, 28))
    assert waiver.valid_on(date(2025, 3, 1)) and waiver.valid_on(date(2025, 6, 30))
    assert not waiver.valid_on(date(2025, 7, 1))
    assert waiver.to_report(date(2025, 7, 1))["valid"] is False


def test_the_verdict_ignores_an_expired_waiver() -> None:
    from harness.profiles import CERTIFIED, NOT_CERTIFIED, Profile, decide

    profile = Profile(name="province", version="1", title_vi="Cấp tỉnh", title_en="Province",
                      mandatory=["LOAD-*"])
    statuses = {"LOAD-LATENCY-P99": "fail"}
    args = (profile, statuses, ["LOAD-LATENCY-P99"], True, [_waiver()], set())
    assert decide(*args, day=date(2025, 4, 1)).status == CERTIFIED
    expired = decide(*args, day=date(2025, 7, 1))
    assert expired.status == NOT_CERTIFIED and expired.blocking == ("LOAD-LATENCY-P99",)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "waivers.yaml"
    path.write_text(text, encoding="utf-8")
    return path


GOOD = """waivers:
  - check_id: LOAD-LATENCY-P99
    reason: nightly batch moves off-peak
    assessor: Lan
    approved_on: 2025-03-01
    expires: 2025-06-30
"""


@pytest.mark.parametrize("text, field, words", [
    (GOOD.replace("    assessor: Lan\n", ""), "waivers[0].assessor", "is required"),
    (GOOD.replace("2025-06-30", "30/06/2025"), "waivers[0].expires", "YYYY-MM-DD"),
    (GOOD.replace("2025-06-30", "2025-02-01"), "waivers[0].expires", "must be after approved_on"),
    (GOOD.replace("LOAD-LATENCY-P99", "latency"), "waivers[0].check_id", "popcert checks"),
    (GOOD + "    signed_by: x\n", "waivers[0].signed_by", "unknown field"),
    (GOOD.replace("waivers:", "waiver:"), "waiver", "unknown top-level field"),
    ("waivers: [\n", "line", "not valid YAML"),
])
def test_errors_name_file_field_and_fix(tmp_path: Path, text: str, field: str, words: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_waivers(path)
    assert caught.value.path == str(path) and caught.value.field.startswith(field)
    assert words in caught.value.one_line()


def test_missing_file_and_empty_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_waivers(tmp_path / "nope.yaml")
    assert load_waivers(_write(tmp_path, "")) == []


def test_waiver_for_prefers_a_valid_waiver() -> None:
    old = _waiver(approved_on=date(2024, 1, 1), expires=date(2024, 6, 1))
    current = _waiver()
    assert waiver_for("LOAD-LATENCY-P99", [old, current], date(2025, 4, 1)) == current
    assert waiver_for("LOAD-LATENCY-P99", [old], date(2025, 4, 1)) == old  # shown, but not valid
    assert waiver_for("AUTH-X", [old], date(2025, 4, 1)) is None


def test_attestation_entries_mark_missing_and_expired() -> None:
    from harness.profiles import AttestationItem

    items = [AttestationItem(id="plan", title_vi="Phương án", title_en="Plan"),
             AttestationItem(id="servers", title_vi="Máy chủ", title_en="Servers"),
             AttestationItem(id="pentest", title_vi="Kiểm thử", title_en="Pentest", required=False)]
    given = [Attestation(item_id="plan", assessor="Lan", date=date(2025, 3, 2),
                         statement="reviewed plan v1.4 in full"),
             Attestation(item_id="servers", assessor="Bình", date=date(2024, 1, 2),
                         statement="inspected both servers", expires=date(2025, 1, 1))]
    entries = {e["item_id"]: e for e in attestation_entries(items, given, date(2025, 4, 1))}
    assert entries["plan"]["status"] == "attested" and entries["plan"]["date"] == "2025-03-02"
    assert entries["servers"]["status"] == "expired"
    assert entries["pentest"]["status"] == "missing" and entries["pentest"]["required"] is False


# --- the shipped examples and expired attestations (issue 13) -------------------------------

@pytest.mark.parametrize("path", [EXAMPLES / "attestations.yaml",
                                  REPO_ROOT / "examples/city_system/attestations.yaml"])
@pytest.mark.parametrize("level", ["district", "province", "ministry"])
def test_example_attestations_cover_every_required_item(path: Path, level: str) -> None:
    from harness.profiles import load_profile

    given = {a.item_id for a in load_attestations(path)}
    required = {item.id for item in load_profile(level).attestations if item.required}
    assert required - given == set(), f"{path.name} lacks {sorted(required - given)} for {level}"


def test_the_example_server_hardening_attestation_was_renewed() -> None:
    # The example keeps the expired 2025 entry as history; the renewal is what counts in 2026.
    from harness.profiles import AttestationItem

    attestations = load_attestations(EXAMPLES / "attestations.yaml")
    item = AttestationItem(id="server-hardening", title_vi="Cứng hóa máy chủ",
                           title_en="Server hardening")
    entries = {e["item_id"]: e for e in attestation_entries([item], attestations, date(2026, 6, 1))}
    assert entries["server-hardening"]["status"] == "attested"
    assert entries["server-hardening"]["expires"] == "2027-03-02"


def test_expired_attestations_name_their_expiry_day() -> None:
    from harness.assessor import expired_attestations

    old = Attestation(item_id="server-hardening", assessor="Bình", date=date(2024, 3, 2),
                      statement="inspected both servers", expires=date(2025, 3, 2))
    older = old.model_copy(update={"date": date(2023, 3, 2), "expires": date(2024, 3, 2)})
    current = Attestation(item_id="connection-plan", assessor="Anh", date=date(2025, 1, 1),
                          statement="reviewed the connection plan")
    assert expired_attestations([older, old, current], date(2025, 6, 1)) == {
        "server-hardening": date(2025, 3, 2)}
    renewed = old.model_copy(update={"date": date(2025, 3, 1), "expires": date(2026, 3, 1)})
    assert expired_attestations([old, renewed], date(2025, 6, 1)) == {}


def test_an_expired_attestation_makes_the_verdict_say_expired() -> None:
    from harness.assessor import expired_attestations
    from harness.profiles import decide, load_profile

    attestations = load_attestations(EXAMPLES / "attestations.yaml")
    day = date(2027, 6, 1)  # after the renewal of server-hardening expired too
    valid = {a.item_id for a in attestations if a.valid_on(day)}
    verdict = decide(load_profile("district"), {}, [], True, [], valid, day,
                     expired=expired_attestations(attestations, day))
    assert verdict.reasons == (
        "attestation server-hardening (Server hardening) expired on 2027-03-02: renew it",)
