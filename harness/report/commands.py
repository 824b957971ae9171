"""CLI commands for reports: keys, sign, verify, diff. The lead registers them on harness.cli.

Plain functions with typer-annotated parameters, e.g. ``keys_app.command("new")(keys_new)``.
Exit codes: verify 0 valid / 1 invalid / 2 usage error (missing file, unusable key).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from harness.errors import PopcertError
from harness.report import diff as report_diff
from harness.report import sign as signing

EXIT_VALID, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


def _console() -> Console:
    # No colour codes in logs and test output unless a terminal asks for them.
    return Console(highlight=False, soft_wrap=True)


def _fail_usage(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(EXIT_USAGE)


def keys_new(
    out_dir: Annotated[Path, typer.Option("--out-dir", "-o", help="folder for the key files")] = Path("keys"),
    name: Annotated[str, typer.Option("--name", "-n", help="key name: NAME.key.pem, NAME.pub.pem")] = "assessor",
) -> None:
    """Create an Ed25519 signing key pair for an assessor."""
    try:
        pair = signing.keys_new(out_dir, name)
    except PopcertError as problem:
        raise _fail_usage(str(problem)) from None
    typer.echo(f"private key: {pair.private_key} (keep it secret, mode 0600)")
    typer.echo(f"public key:  {pair.public_key}")
    typer.echo(f"fingerprint: {pair.fingerprint}")


def sign(
    report: Annotated[Path, typer.Argument(help="report.json to sign")],
    key: Annotated[Path, typer.Option("--key", "-k", help="NAME.key.pem from `popcert keys new`")],
) -> None:
    """Write report.json.sig, a detached Ed25519 signature over report.json."""
    try:
        signature_path = signing.sign_report(report, key)
    except OSError as missing:
        raise _fail_usage(f"{report}: cannot read the report ({missing.strerror})") from None
    except PopcertError as problem:
        raise _fail_usage(str(problem)) from None
    typer.echo(f"signed: {signature_path}")
    typer.echo(f"check with: popcert verify {report} --public-key PUB.pem   or\n"
               f"  openssl pkeyutl -verify -pubin -inkey PUB.pem -rawin -in {report} -sigfile {signature_path}")


def verify(
    report: Annotated[Path, typer.Argument(help="report.json")],
    signature: Annotated[Path | None, typer.Option("--signature", "-s",
                                                    help="default: REPORT.sig")] = None,
    public_key: Annotated[Path, typer.Option("--public-key", "-p", help="assessor's NAME.pub.pem")] = Path(
        "assessor.pub.pem"),
) -> None:
    """Check a report's signature, integrity and spec versions. Exit 0 valid, 1 invalid, 2 usage."""
    signature_path = signature or report.with_name(report.name + signing.SIGNATURE_SUFFIX)
    try:
        outcome = signing.verify(report, signature_path, public_key)
    except PopcertError as problem:
        raise _fail_usage(str(problem)) from None
    if outcome.valid:
        typer.echo(f"VALID: signature by {outcome.signer_fingerprint}; verdict {outcome.verdict}")
        raise typer.Exit(EXIT_VALID)
    typer.echo("INVALID:")
    for reason in outcome.reasons:
        typer.echo(f"  - {reason}")
    raise typer.Exit(EXIT_INVALID)


def _read_report(path: Path) -> dict[str, Any]:
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except OSError as missing:
        raise _fail_usage(f"{path}: cannot read the report ({missing.strerror})") from None
    except ValueError:
        raise _fail_usage(f"{path}: not a JSON report") from None
    if not isinstance(loaded, dict) or "verdict" not in loaded or "results" not in loaded:
        raise _fail_usage(f"{path}: not a popcert report.json (no verdict/results)")
    return loaded


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
    raise typer.Exit(EXIT_INVALID if any(c.is_regression for c in changes) else EXIT_VALID)
