"""Certification profiles and the verdict rule: when a system is, and is not, CERTIFIED."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from harness.assessor import Waiver
from harness.errors import ConfigError
from harness.profiles import CERTIFIED, INCOMPLETE, NOT_CERTIFIED, PROFILES_DIR, Profile, decide, load_profile

TODAY = date(2025, 6, 1)
REGISTERED = ["AUTH-JWT-ALG-NONE", "AUTH-MTLS-REQUIRED", "TLS-PROTOCOLS", "FW-DEFAULT-DENY",
              "FW-SHADOWED-RULES"]


def profile(**overrides: object) -> Profile:
    raw: dict[str, object] = {
        "name": "test", "version": "1", "title_vi": "Thử", "title_en": "Test",
        "mandatory": ["AUTH-*", "TLS-*", "FW-*"], "advisory": ["FW-SHADOWED-RULES"],
        "attestations": [{"id": "connection-plan", "title_vi": "Phương án kết nối",
                          "title_en": "Connection plan"},
                         {"id": "pentest", "title_vi": "Kiểm thử", "title_en": "Pentest",
                          "required": False}]}
    raw.update(overrides)
    return Profile.model_validate(raw)


def all_pass(**changes: str) -> dict[str, str]:
    return {check_id: changes.get(check_id, "pass") for check_id in REGISTERED}


def waiver(check_id: str, approved: date = date(2025, 1, 1),
           expires: date = date(2025, 12, 31)) -> Waiver:
    return Waiver(check_id=check_id, reason="compensating control: VPN-only access, reviewed",
                  assessor="Nguyễn Văn An", approved_on=approved, expires=expires)


def verdict(statuses: dict[str, str], *, complete: bool = True, waivers: list[Waiver] | None = None,
            attested: set[str] | None = None, prof: Profile | None = None):  # type: ignore[no-untyped-def]
    return decide(prof or profile(), statuses, REGISTERED, complete, list(waivers or []),
                  {"connection-plan"} if attested is None else attested, TODAY)


# --- mandatory / advisory -------------------------------------------------------------------

def test_globs_make_checks_mandatory() -> None:
    prof = profile()
    assert prof.is_mandatory("AUTH-JWT-ALG-NONE") and prof.is_mandatory("FW-DEFAULT-DENY")
    assert not prof.is_mandatory("LOAD-P95")  # not listed at all


def test_advisory_wins_over_mandatory() -> None:
    prof = profile(advisory=["FW-SHADOWED-RULES", "AUTH-MTLS-*"])
    assert not prof.is_mandatory("FW-SHADOWED-RULES")
    assert not prof.is_mandatory("AUTH-MTLS-REQUIRED")
    assert prof.is_mandatory("AUTH-JWT-ALG-NONE")


def test_globs_are_case_sensitive() -> None:
    assert not profile().is_mandatory("auth-jwt-alg-none")


def test_threshold_lookup_with_default() -> None:
    prof = profile(thresholds={"load": {"p95_ms": 250}})
    assert prof.threshold("load", "p95_ms") == 250
    assert prof.threshold("load", "p99_ms", 600) == 600
    assert prof.threshold("tls", "min_days_to_expiry") is None


# --- the verdict ------------------------------------------------------------------------------

def test_certified_when_complete_all_mandatory_pass_and_attested() -> None:
    result = verdict(all_pass())
    assert result.status == CERTIFIED and result.exit_code == 0
    assert result.reasons == () and result.blocking == ()


@pytest.mark.parametrize("status", ["fail", "error", "skip", "manual"])
def test_a_mandatory_check_that_did_not_pass_blocks(status: str) -> None:
    result = verdict(all_pass(**{"TLS-PROTOCOLS": status}))
    assert result.status == NOT_CERTIFIED and result.exit_code == 1
    assert result.blocking == ("TLS-PROTOCOLS",)
    assert status in result.reasons[0]


def test_a_mandatory_check_that_did_not_run_blocks() -> None:
    statuses = all_pass()
    del statuses["AUTH-JWT-ALG-NONE"]
    result = verdict(statuses)
    assert result.status == NOT_CERTIFIED and "did not run" in result.reasons[0]


def test_an_advisory_failure_does_not_block() -> None:
    assert verdict(all_pass(**{"FW-SHADOWED-RULES": "fail"})).status == CERTIFIED


def test_a_valid_waiver_covers_a_failed_mandatory_check() -> None:
    result = verdict(all_pass(**{"FW-DEFAULT-DENY": "fail"}), waivers=[waiver("FW-DEFAULT-DENY")])
    assert result.status == CERTIFIED


def test_a_waiver_for_another_check_does_not_help() -> None:
    result = verdict(all_pass(**{"FW-DEFAULT-DENY": "fail"}), waivers=[waiver("TLS-PROTOCOLS")])
    assert result.status == NOT_CERTIFIED and result.blocking == ("FW-DEFAULT-DENY",)


def test_an_expired_waiver_no_longer_counts() -> None:
    expired = waiver("FW-DEFAULT-DENY", date(2024, 1, 1), date(2025, 5, 31))
    result = verdict(all_pass(**{"FW-DEFAULT-DENY": "fail"}), waivers=[expired])
    assert result.status == NOT_CERTIFIED and result.blocking == ("FW-DEFAULT-DENY",)


def test_a_waiver_not_yet_approved_does_not_count() -> None:
    future = waiver("FW-DEFAULT-DENY", date(2025, 7, 1), date(2025, 12, 31))
    assert verdict(all_pass(**{"FW-DEFAULT-DENY": "fail"}), waivers=[future]).status == NOT_CERTIFIED


def test_waiver_is_valid_on_its_last_day() -> None:
    last_day = waiver("FW-DEFAULT-DENY", date(2025, 1, 1), TODAY)
    assert verdict(all_pass(**{"FW-DEFAULT-DENY": "fail"}), waivers=[last_day]).status == CERTIFIED


def test_missing_required_attestation_blocks() -> None:
    result = verdict(all_pass(), attested=set())
    assert result.status == NOT_CERTIFIED
    assert any("connection-plan" in reason for reason in result.reasons)


def test_optional_attestation_may_be_missing() -> None:
    # "pentest" is required: false in the test profile; only connection-plan is attested.
    assert verdict(all_pass(), attested={"connection-plan"}).status == CERTIFIED


def test_incomplete_run_is_never_certified() -> None:
    result = verdict(all_pass(), complete=False)
    assert result.status == INCOMPLETE and result.exit_code == 1
    assert "did not finish" in result.reasons[0]


def test_incomplete_wins_over_not_certified_and_keeps_the_reasons() -> None:
    result = verdict(all_pass(**{"TLS-PROTOCOLS": "fail"}), complete=False)
    assert result.status == INCOMPLETE and result.blocking == ("TLS-PROTOCOLS",)


def test_verdict_json_shape() -> None:
    data = verdict(all_pass(**{"TLS-PROTOCOLS": "fail"})).to_json()
    assert data["status"] == NOT_CERTIFIED and data["blocking"] == ["TLS-PROTOCOLS"]
    assert isinstance(data["reasons"], list)


# --- shipped profiles ------------------------------------------------------------------------

SHIPPED = sorted(p.stem for p in PROFILES_DIR.glob("*.yaml"))


def test_the_three_levels_are_shipped() -> None:
    assert {"ministry", "province", "district"} <= set(SHIPPED)


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_profile_loads(name: str) -> None:
    prof = load_profile(name)
    assert prof.name == name
    assert prof.mandatory, "a profile with no mandatory check certifies anything"
    assert prof.title_vi and prof.title_en
    assert all(item.id for item in prof.attestations)


def test_unknown_profile_names_the_known_ones() -> None:
    with pytest.raises(ConfigError) as caught:
        load_profile("county")
    assert caught.value.field == "profile" and "province" in caught.value.hint


def test_invalid_profile_file_names_the_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: bad\nversion: '1'\ntitle_vi: x\ntitle_en: x\nmtls: sometimes\n"
                    "mandatory: ['*']\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_profile(path)
    assert caught.value.field == "mtls"


# --- reasons a person can act on (issue 13) -------------------------------------------------

def test_an_expired_attestation_is_reported_as_expired_with_its_date() -> None:
    result = decide(profile(), all_pass(), REGISTERED, True, [], set(), TODAY,
                    expired={"connection-plan": date(2025, 3, 2)})
    assert result.status == NOT_CERTIFIED
    assert result.reasons == (
        "attestation connection-plan (Connection plan) expired on 2025-03-02: renew it",)


def test_a_blocking_check_reason_quotes_its_summary() -> None:
    summary = ("the SUT publishes no OpenAPI document (GET https://127.0.0.1/openapi.json -> 404):"
               " publish it at <base_url>/openapi.json or set target.openapi_url in run.yaml")
    result = decide(profile(), all_pass(**{"TLS-PROTOCOLS": "fail"}), REGISTERED, True, [],
                    {"connection-plan"}, TODAY, summaries={"TLS-PROTOCOLS": summary})
    assert result.reasons[0].startswith("TLS-PROTOCOLS: mandatory check ended fail — ")
    assert "set target.openapi_url" in result.reasons[0]


def test_spec_drift_is_mandatory_above_district_and_advisory_at_district() -> None:
    # The published OpenAPI document is mandatory where CONF-SPEC-DRIFT is (docs/conformance.md).
    assert not load_profile("district").is_mandatory("CONF-SPEC-DRIFT")
    assert load_profile("province").is_mandatory("CONF-SPEC-DRIFT")
    assert load_profile("ministry").is_mandatory("CONF-SPEC-DRIFT")


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_profile_sets_latency_budgets_below_the_600_ms_slow_system(name: str) -> None:
    from harness.suites.conformance.latency import budget_for

    thresholds = load_profile(name).thresholds["conformance"]
    for operation_id, method in (("createDossier", "post"), ("getDossier", "get"),
                                 ("listDossiers", "get"), ("getHealth", "get")):
        assert 0 < budget_for(thresholds, operation_id, method) < 600, (name, operation_id)


def test_district_budgets_are_no_stricter_than_province_and_ministry() -> None:
    from harness.suites.conformance.latency import budget_for

    def budgets(name: str) -> list[float]:
        thresholds = load_profile(name).thresholds["conformance"]
        return [budget_for(thresholds, "x", m) for m in ("get", "post")]

    for district, province, ministry in zip(budgets("district"), budgets("province"),
                                            budgets("ministry"), strict=True):
        assert district >= province >= ministry


def test_a_latency_budget_that_is_not_milliseconds_is_refused_at_load(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: bad\nversion: '1'\ntitle_vi: x\ntitle_en: x\nmandatory: ['*']\n"
                    "thresholds: {conformance: {latency_budget_ms: {read: fast}}}\n",
                    encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_profile(path)
    assert caught.value.field == "thresholds" and "latency_budget_ms" in caught.value.message
