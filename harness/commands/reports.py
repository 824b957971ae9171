"""CLI commands for reports: keys, sign, verify, diff, registered on harness.commands.main.

Functions with typer-annotated parameters, e.g. ``keys_app.command("new")(keys_new)``, each
through ``user_errors``. Exit codes: verify 0 valid / 1 invalid / 2 usage error (missing file,
unusable key).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from harness.commands.errors import EXIT_FAILED, EXIT_OK, user_errors
from harness.commands.options import TrustStoreOption
from harness.errors import PopcertError
from harness.report import diff as report_diff
from harness.report import sign as signing
from harness.report.document import ReportDocument, ReportFormatError, read_report
from harness.signing import keys as signing_keys
from harness.signing import trust
from harness.untrusted import strip_control


def _console() -> Console:
    # No colour codes in logs and test output unless a terminal asks for them.
    return Console(highlight=False, soft_wrap=True)


@user_errors
def keys_new(
    out_dir: Annotated[Path, typer.Option("--out-dir", "-o", help="folder for the key files")] = Path("keys"),
    name: Annotated[str, typer.Option("--name", "-n", help="key name: NAME.key.pem, NAME.pub.pem")] = "assessor",
) -> None:
    """Create an Ed25519 signing key pair for an assessor."""
    pair = signing_keys.keys_new(out_dir, name)
    typer.echo(f"private key: {pair.private_key} (keep it secret, mode 0600)")
    typer.echo(f"public key:  {pair.public_key}")
    typer.echo(f"fingerprint: {pair.fingerprint}")


@user_errors
def sign(
    report: Annotated[Path, typer.Argument(help="report.json to sign")],
    key: Annotated[Path, typer.Option("--key", "-k", help="NAME.key.pem from `popcert keys new`")],
) -> None:
    """Write report.json.sig, a detached Ed25519 signature over report.json."""
    try:
        signature_path = signing.sign_report(report, key)
    except OSError as missing:
        raise PopcertError(f"{report}: cannot read the report ({missing.strerror})") from None
    typer.echo(f"signed: {signature_path}")
    typer.echo(f"check with: popcert verify {report}   (after `popcert keys trust PUB.pem`), or\n"
               f"  openssl pkeyutl -verify -pubin -inkey PUB.pem -rawin -in {report} -sigfile {signature_path}")


@user_errors
def keys_trust(
    public_key: Annotated[Path, typer.Argument(help="an assessor's NAME.pub.pem, received out of band")],
    name: Annotated[str | None, typer.Option("--name", "-n", help="name in the trust store "
                                             "(default: the file's name)")] = None,
    trust_store: TrustStoreOption = None,
) -> None:
    """Trust an assessor's public key: `popcert verify` accepts reports it signed."""
    trusted = trust.trust_key(public_key, trust_store, name)
    typer.echo(f"trusted: {trusted.name} {trusted.fingerprint}")
    typer.echo(f"stored:  {trusted.path}")
    typer.echo("compare the fingerprint with the assessor's (e.g. read it out by phone) before relying on it")


@user_errors
def keys_list(trust_store: TrustStoreOption = None) -> None:
    """List the assessor keys `popcert verify` trusts."""
    folder = trust_store or trust.default_trust_store()
    keys = trust.trusted_keys(folder)
    if not keys:
        typer.echo(f"no trusted keys in {folder} — add one with `popcert keys trust ASSESSOR.pub.pem`")
    for key in keys:
        typer.echo(f"{key.name}  {key.fingerprint}  {key.path}")


@user_errors
def verify(
    report: Annotated[Path, typer.Argument(help="report.json")],
    signature: Annotated[Path | None, typer.Option("--signature", "-s",
                                                    help="default: REPORT.sig")] = None,
    trust_store: TrustStoreOption = None,
    public_key: Annotated[Path | None, typer.Option(
        "--public-key", "-p", help="trust exactly this key instead of the trust store (pin a key "
                                   "kept outside the report's folder, e.g. in CI)")] = None,
) -> None:
    """Check a report's signature by a trusted assessor, its integrity, spec versions and verdict.

    Exit 0 valid, 1 invalid, 2 usage. Keys come from the trust store (`popcert keys trust`),
    never from the report's folder.
    """
    signature_path = signature or report.with_name(report.name + signing_keys.SIGNATURE_SUFFIX)
    keys: Path | list[Any]
    names: dict[str, str] = {}
    if public_key is not None:
        if report.resolve().parent in public_key.resolve().parents:  # beside it or below it
            raise PopcertError(f"{public_key}: a key shipped in the report's folder proves nothing "
                               "(anyone can re-sign with their own) — keep the assessor's key "
                               "elsewhere or trust it with `popcert keys trust`")
        keys = public_key
    else:
        folder = trust_store or trust.default_trust_store()
        store = trust.trusted_keys(folder)
        names = {k.fingerprint: k.name for k in store}
        keys = [k.key for k in store]
        if not keys:
            raise PopcertError(f"no trusted assessor key in {folder} — trust the assessor's key "
                               "first: `popcert keys trust ASSESSOR.pub.pem`")
    outcome = signing.verify(report, signature_path, keys)
    banner = _banner_of(report)
    if banner:  # a demo or --quick run: valid or not, it is not a certification
        typer.echo(banner)
    if outcome.valid:
        signer = names.get(outcome.signer_fingerprint or "", "")
        typer.echo(f"VALID: signature by {signer + ' ' if signer else ''}{outcome.signer_fingerprint}; "
                   f"verdict {outcome.verdict}")
        raise typer.Exit(EXIT_OK)
    typer.echo("INVALID:")
    for reason in outcome.reasons:
        typer.echo(f"  - {strip_control(reason, keep_newlines=False)}")
    raise typer.Exit(EXIT_FAILED)


def _banner_of(report: Path) -> str | None:
    """The demo/quick banner line for the report's run mode (popcert's own words, not the
    report's), or None (also for a report that does not read)."""
    from harness.report.banner import banner_for, banner_line

    try:
        run = read_report(report).run
    except (OSError, PopcertError):
        return None
    return banner_line(banner_for(run.mode, run.quick))


def _read_report(path: Path) -> ReportDocument:
    try:
        return read_report(path)
    except OSError as missing:
        raise PopcertError(f"{path}: cannot read the report ({missing.strerror})") from None
    except ReportFormatError as broken:
        raise PopcertError(strip_control(f"{path}: {broken}", keep_newlines=False)) from None


@user_errors
def diff(
    old: Annotated[Path, typer.Argument(help="earlier report.json")],
    new: Annotated[Path, typer.Argument(help="later report.json")],
    plain: Annotated[bool, typer.Option("--plain", help="plain text instead of a table")] = False,
) -> None:
    """Show what changed between two runs. Exit 1 when the later run regressed."""
    changes = report_diff.diff_reports(_read_report(old), _read_report(new))
    if plain:
        typer.echo(report_diff.render_text(changes))
    else:
        report_diff.print_rich(changes, _console())
    raise typer.Exit(EXIT_FAILED if any(c.is_regression for c in changes) else EXIT_OK)
