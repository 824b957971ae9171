"""A revocation cannot be undone: signed checkpoints of the registry's log (issue 21).

The attack: with write access to the registry database, delete the revoke entry and clear the
row's revoked_at. The hash chain of what is left still checks, so `certificate verify` said VALID
and the site showed the certificate as valid. Every issue and revoke now signs a checkpoint (log
size and head hash, RFC 9162 / Rekor style) beside the database, the one who checks remembers the
newest seen, and the registry site publishes one: a log shorter than, or inconsistent with, any of
them is refused. Each attack below deletes, truncates or rewrites entries, and each is detected.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.certificate import log as cert_log
from harness.certificate.checkpoint import (
    beside_database,
    make_checkpoint,
    read_checkpoint,
    seen_path,
)
from harness.certificate.issue import IssuedCertificate, issue_certificate, trusted_public_keys
from harness.certificate.model import CertificateError
from harness.certificate.site import render_site
from harness.certificate.verify import verify_certificate
from harness.commands.main import app
from harness.signing.canonical import canonical_json
from harness.signing.keys import keys_new, load_private_key
from tests.unit.certificate.conftest import Lab, certified

runner = CliRunner()


def _issue(lab: Lab, system: str, name: str) -> IssuedCertificate:
    return issue_certificate(lab.report(certified(system=system), name=name), lab.key,
                             registry=lab.registry, assessor="A")


def _db(lab: Lab) -> sqlite3.Connection:
    return sqlite3.connect(lab.root / "registry.sqlite3", isolation_level=None)


def _reasons(lab: Lab, issued: IssuedCertificate, checkpoints: tuple[Path, ...] = ()) -> str:
    check = verify_certificate(issued.path, issued.signature_path, registry=lab.registry,
                               trusted=trusted_public_keys(lab.trust_store),
                               checkpoints=checkpoints)
    return "\n".join(check.reasons)


@pytest.fixture
def revoked(lab: Lab, tmp_path: Path) -> tuple[IssuedCertificate, IssuedCertificate, Path]:
    """A issued, B issued, A revoked; the site published (its checkpoint.json) at that point."""
    first, second = _issue(lab, "A", "one"), _issue(lab, "B", "two")
    lab.registry.revoke(first.certificate.serial, "source changed", load_private_key(lab.key))
    site = tmp_path / "site"
    render_site(lab.registry, site, trusted=trusted_public_keys(lab.trust_store))
    assert read_checkpoint(site / "checkpoint.json").size == 3
    assert _reasons(lab, second) == ""
    assert "revoked on" in _reasons(lab, first)
    return first, second, site / "checkpoint.json"


def _undo_revocation(lab: Lab) -> None:
    with _db(lab) as db:
        db.execute("DELETE FROM log_entries WHERE action = 'revoke'")
        db.execute("UPDATE certificates SET revoked_at = NULL, revoked_reason = NULL")


def test_every_issue_and_revoke_writes_a_signed_checkpoint_beside_the_database(lab: Lab) -> None:
    first = _issue(lab, "A", "one")
    beside = beside_database(lab.registry.url)
    assert beside == lab.root / "registry.sqlite3.checkpoint.json"
    checkpoint = read_checkpoint(beside)
    assert checkpoint.size == 1 and checkpoint.head == lab.registry.log()[0].entry_hash
    lab.registry.revoke(first.certificate.serial, "gone", load_private_key(lab.key))
    assert read_checkpoint(beside).size == 2
    assert read_checkpoint(seen_path(lab.registry.url)).size == 2


def test_the_undone_revocation_used_to_pass_every_other_check(lab: Lab, revoked) -> None:
    """Without checkpoints the edited database is self-consistent: the chain and the table agree.
    This is why the checkpoint is needed (the checks below are all the checkpoint's)."""
    first, _, _ = revoked
    _undo_revocation(lab)
    assert lab.registry.integrity_problems(trusted_public_keys(lab.trust_store)) == []
    reasons = _reasons(lab, first)
    assert reasons and all(r.startswith("registry checkpoint:") for r in reasons.splitlines())


def test_deleting_the_revocation_is_detected_against_the_checkpoint_beside_the_database(
        lab: Lab, revoked) -> None:
    first, second, _ = revoked
    _undo_revocation(lab)
    reasons = _reasons(lab, first)
    assert "the log has 2 entries, fewer than the 3 of the checkpoint beside the database" in reasons
    assert "a revocation among them would be undone" in reasons
    assert "fewer than the 3" in _reasons(lab, second)  # the whole registry is suspect


def test_deleting_the_checkpoint_file_too_is_detected_by_the_one_seen_before(lab: Lab, revoked) -> None:
    first, _, _ = revoked
    _undo_revocation(lab)
    beside = beside_database(lab.registry.url)
    assert beside is not None
    beside.unlink()
    assert "fewer than the 3 of the checkpoint seen before" in _reasons(lab, first)


def test_an_older_checkpoint_put_back_beside_does_not_help(lab: Lab, tmp_path: Path) -> None:
    first = _issue(lab, "A", "one")
    beside = beside_database(lab.registry.url)
    assert beside is not None
    older = tmp_path / "older.json"
    shutil.copyfile(beside, older)
    lab.registry.revoke(first.certificate.serial, "gone", load_private_key(lab.key))
    _undo_revocation(lab)
    shutil.copyfile(older, beside)  # the size-1 checkpoint the truncated log agrees with
    assert "fewer than the 2 of the checkpoint seen before" in _reasons(lab, first)


def test_on_a_fresh_machine_the_published_checkpoint_detects_it(lab: Lab, revoked,
                                                               monkeypatch: pytest.MonkeyPatch,
                                                               tmp_path: Path) -> None:
    """No file beside the database, nothing seen on this machine: the site's checkpoint.json,
    given with --checkpoint, is the witness."""
    first, _, published = revoked
    _undo_revocation(lab)
    beside = beside_database(lab.registry.url)
    assert beside is not None
    beside.unlink()
    monkeypatch.setenv("POPCERT_CHECKPOINTS", str(tmp_path / "fresh-machine"))
    assert "fewer than the 3" not in _reasons(lab, first)  # nothing to compare with here
    assert f"fewer than the 3 of the checkpoint given as {published}" in _reasons(
        lab, first, (published,))
    result = runner.invoke(app, ["certificate", "verify", str(first.path), "--checkpoint",
                                 str(published)])
    assert result.exit_code == 1 and "INVALID" in result.output
    assert "a revocation among them would be undone" in result.output


def test_truncating_the_log_with_its_rows_is_detected(lab: Lab, revoked) -> None:
    first, second, published = revoked
    with _db(lab) as db:  # everything after the first issue, rows included
        db.execute("DELETE FROM log_entries WHERE seq > 1")
        db.execute("DELETE FROM certificates WHERE serial = ?", (second.certificate.serial,))
        db.execute("UPDATE certificates SET revoked_at = NULL, revoked_reason = NULL")
    assert lab.registry.integrity_problems(trusted_public_keys(lab.trust_store)) == []
    assert "the log has 1 entries, fewer than the 3" in _reasons(lab, first, (published,))


def test_a_log_rewritten_by_a_trusted_key_is_detected(lab: Lab, revoked) -> None:
    """Someone holding a trusted key rewrites history with valid signatures: the revocation of A
    becomes one of B. The chain checks; the entry at the checkpoint's size is not its head."""
    first, second, published = revoked
    key = load_private_key(lab.key)
    entries = lab.registry.log()
    forged = cert_log.new_entry(entries[1], at=entries[2].at, action=cert_log.REVOKE,
                                serial=second.certificate.serial, detail={"reason": "other"},
                                key=key)
    with _db(lab) as db:
        db.execute("DELETE FROM log_entries WHERE seq = 3")
        db.execute("INSERT INTO log_entries VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   (forged.seq, forged.at, forged.action, forged.serial,
                    canonical_json(forged.detail).decode(), forged.prev_hash, forged.signer,
                    forged.entry_hash, forged.signature))
        db.execute("UPDATE certificates SET revoked_at = NULL, revoked_reason = NULL "
                   "WHERE serial = ?", (first.certificate.serial,))
        db.execute("UPDATE certificates SET revoked_at = ?, revoked_reason = 'other' "
                   "WHERE serial = ?", (forged.at, second.certificate.serial))
    assert lab.registry.integrity_problems(trusted_public_keys(lab.trust_store)) == []
    reasons = _reasons(lab, first, (published,))
    assert "log entry 3 (revoke " in reasons and "the log was rewritten" in reasons


def test_the_site_generator_refuses_a_log_shorter_than_its_checkpoint(lab: Lab, revoked,
                                                                     tmp_path: Path) -> None:
    _, _, published = revoked
    _undo_revocation(lab)
    with pytest.raises(CertificateError, match="fewer than the 3"):
        render_site(lab.registry, tmp_path / "site2", trusted=trusted_public_keys(lab.trust_store))
    assert not (tmp_path / "site2" / "index.html").exists()
    result = runner.invoke(app, ["registry", "site", str(tmp_path / "site3"), "--checkpoint",
                                 str(published)])
    assert result.exit_code == 2 and "no site written" in result.output


def test_issuing_or_revoking_on_a_truncated_log_writes_nothing(lab: Lab, revoked) -> None:
    """A new checkpoint signed over the truncated log would launder the deletion."""
    _, second, _ = revoked
    _undo_revocation(lab)
    with pytest.raises(CertificateError, match="nothing written"):
        _issue(lab, "C", "three")
    with pytest.raises(CertificateError, match="nothing written"):
        lab.registry.revoke(second.certificate.serial, "x", load_private_key(lab.key))
    assert len(lab.registry.log()) == 2


def test_a_checkpoint_signed_by_an_untrusted_key_is_refused(lab: Lab, revoked,
                                                          tmp_path: Path) -> None:
    """A size-1 checkpoint by a key nobody trusts (it would excuse a truncation) is refused."""
    _, second, _ = revoked
    pair = keys_new(tmp_path / "mallory", "mallory")
    fake = make_checkpoint(lab.registry.log()[:1], load_private_key(pair.private_key))
    path = tmp_path / "forged.json"
    path.write_bytes(fake.to_bytes())
    assert "is not signed by a key in the trust store" in _reasons(lab, second, (path,))
    edited = json.loads(read_checkpoint(beside_database(lab.registry.url)).to_bytes())
    edited["checkpoint"]["size"] = 1  # a trusted checkpoint edited: its signature breaks
    path.write_bytes(canonical_json(edited))
    assert "is not signed by a key in the trust store" in _reasons(lab, second, (path,))


def test_the_site_publishes_its_checkpoint_and_a_fresh_one_with_a_key(lab: Lab, revoked,
                                                                     tmp_path: Path) -> None:
    _, _, published = revoked
    index = (published.parent / "index.html").read_text(encoding="utf-8")
    assert read_checkpoint(published).head in index and 'id="checkpoint-head"' in index
    result = runner.invoke(app, ["registry", "site", str(tmp_path / "fresh"), "--key",
                                 str(lab.key)])
    assert result.exit_code == 0, result.output
    assert "checkpoint: " in result.output
    assert read_checkpoint(tmp_path / "fresh" / "checkpoint.json").size == 3
