"""`popcert certificate verify`: signature, trust store, dates, revocation and the log's chain,
including tampering with the registry database itself (edit, delete, reorder a log row)."""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta

import pytest

from harness.certificate.issue import IssuedCertificate, issue_certificate, trusted_public_keys
from harness.certificate.verify import verify_certificate
from harness.signing.canonical import canonical_json
from harness.signing.keys import keys_new, load_private_key
from tests.unit.certificate.conftest import Lab, certified


def _issue(lab: Lab, system: str = "Hệ thống A", name: str = "run") -> IssuedCertificate:
    return issue_certificate(lab.report(certified(system=system), name=name), lab.key,
                             registry=lab.registry, assessor="A")


def _check(lab: Lab, issued: IssuedCertificate, **kw):
    return verify_certificate(issued.path, issued.signature_path, registry=lab.registry,
                              trusted=kw.pop("trusted", trusted_public_keys(lab.trust_store)), **kw)


def _db(lab: Lab) -> sqlite3.Connection:
    return sqlite3.connect(lab.root / "registry.sqlite3", isolation_level=None)


def test_fresh_certificate_is_valid(lab: Lab) -> None:
    check = _check(lab, _issue(lab))
    assert check.valid, check.reasons
    assert check.status == "valid"


def test_edited_certificate_fails_its_signature(lab: Lab) -> None:
    issued = _issue(lab)
    document = json.loads(issued.path.read_bytes())
    document["not_after"] = "2099-01-01T00:00:00+00:00"
    issued.path.write_bytes(canonical_json(document))
    reasons = " ".join(_check(lab, issued).reasons)
    assert "signature does not match" in reasons
    assert "different certificate under this serial" in reasons


def test_certificate_signed_by_an_untrusted_key_is_invalid(lab: Lab) -> None:
    issued = _issue(lab)
    assert "no assessor key" in " ".join(_check(lab, issued, trusted=[]).reasons)
    stranger = keys_new(lab.root / "other", "stranger")
    other = [load_private_key(stranger.private_key).public_key()]
    reasons = " ".join(_check(lab, issued, trusted=other).reasons)
    assert "does not match any trusted key" in reasons and "not in the trust store" in reasons


def test_expiring_then_expired(lab: Lab) -> None:
    issued = _issue(lab)
    not_after = issued.certificate.not_after
    soon = _check(lab, issued, now=not_after - timedelta(days=10))
    assert soon.valid and soon.status == "expiring"
    late = _check(lab, issued, now=not_after + timedelta(seconds=1))
    assert not late.valid and late.status == "expired"
    assert any("expired on" in reason for reason in late.reasons)
    early = _check(lab, issued, now=issued.certificate.issued_at - timedelta(days=1))
    assert any("in the future" in reason for reason in early.reasons)


def test_revoked_certificate_is_invalid_and_others_stay_valid(lab: Lab) -> None:
    first, second = _issue(lab, "A", "one"), _issue(lab, "B", "two")
    lab.registry.revoke(first.certificate.serial, "firewall policy changed",
                        load_private_key(lab.key))
    check = _check(lab, first)
    assert check.status == "revoked"
    assert any("revoked on" in r and "firewall policy changed" in r for r in check.reasons)
    assert _check(lab, second).valid
    assert [e.action for e in lab.registry.log()] == ["issue", "issue", "revoke"]


def test_certificate_missing_from_the_registry_is_invalid(lab: Lab, tmp_path_factory) -> None:
    from harness.certificate.registry import Registry

    issued = _issue(lab)
    elsewhere = Registry(tmp_path_factory.mktemp("other") / "registry.sqlite3")
    check = verify_certificate(issued.path, issued.signature_path, registry=elsewhere,
                               trusted=trusted_public_keys(lab.trust_store))
    assert any("not in the registry" in reason for reason in check.reasons)


@pytest.fixture
def three_entries(lab: Lab) -> tuple[IssuedCertificate, IssuedCertificate]:
    first, second = _issue(lab, "A", "one"), _issue(lab, "B", "two")
    lab.registry.revoke(first.certificate.serial, "source changed", load_private_key(lab.key))
    assert _check(lab, second).valid
    return first, second


def test_editing_a_log_row_is_detected(lab: Lab, three_entries) -> None:
    _, second = three_entries
    with _db(lab) as db:
        db.execute("UPDATE log_entries SET detail = ? WHERE seq = 3",
                   (json.dumps({"reason": "nothing to see"}),))
    assert any("changed after it was written" in r for r in _check(lab, second).reasons)


def test_deleting_a_log_row_is_detected(lab: Lab, three_entries) -> None:
    _, second = three_entries
    with _db(lab) as db:
        db.execute("DELETE FROM log_entries WHERE seq = 1")
    reasons = " ".join(_check(lab, second).reasons)
    assert "an entry was deleted" in reasons and "never issued in the log" in reasons


def test_reordering_log_rows_is_detected(lab: Lab, three_entries) -> None:
    _, second = three_entries
    with _db(lab) as db:
        db.execute("UPDATE log_entries SET seq = -1 WHERE seq = 1")
        db.execute("UPDATE log_entries SET seq = 1 WHERE seq = 2")
        db.execute("UPDATE log_entries SET seq = 2 WHERE seq = -1")
    reasons = " ".join(_check(lab, second).reasons)
    assert "does not follow the entry before it" in reasons


def test_unrevoking_in_the_table_does_not_unrevoke(lab: Lab, three_entries) -> None:
    first, _ = three_entries
    with _db(lab) as db:
        db.execute("UPDATE certificates SET revoked_at = NULL, revoked_reason = NULL")
    check = _check(lab, first)
    assert check.status == "revoked"
    assert any("the log revoked it but the registry row says otherwise" in r for r in check.reasons)


def test_swapping_a_stored_certificate_is_detected(lab: Lab, three_entries) -> None:
    _, second = three_entries
    with _db(lab) as db:
        stored = db.execute("SELECT certificate_json FROM certificates WHERE serial = ?",
                            (second.certificate.serial,)).fetchone()[0]
        document = json.loads(stored)
        document["not_after"] = "2099-01-01T00:00:00+00:00"
        db.execute("UPDATE certificates SET certificate_json = ? WHERE serial = ?",
                   (canonical_json(document).decode(), second.certificate.serial))
    reasons = " ".join(_check(lab, second).reasons)
    assert "differs from the one the log recorded" in reasons


def test_deleting_the_newest_log_row_is_detected(lab: Lab, three_entries) -> None:
    first, _ = three_entries
    with _db(lab) as db:
        db.execute("DELETE FROM log_entries WHERE seq = 3")  # the revocation
    check = _check(lab, first)
    assert check.status == "revoked"  # the row still says so: deleting never un-revokes
    assert any("no signed revocation" in r for r in check.reasons)
