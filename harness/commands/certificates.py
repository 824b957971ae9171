"""`popcert certificate issue|list|show|revoke|verify` and `popcert registry site`.

Exit codes: 0 done / valid, 1 invalid certificate (verify), 2 usage error (missing file, a report
that cannot be certified, an untrusted key, a registry that cannot be opened).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from harness.certificate.model import Certificate, CertificateError, now_utc, status_on
from harness.commands.errors import EXIT_FAILED, EXIT_OK, user_errors
from harness.commands.examples import epilog
from harness.commands.options import TrustStoreOption
from harness.errors import PopcertError
from harness.untrusted import WALK, strip_control, walk_bounded

certificate_app = typer.Typer(help="Certificates an assessor issues from a CERTIFIED report.",
                              no_args_is_help=True)
registry_app = typer.Typer(help="The registry of issued certificates.", no_args_is_help=True)

CheckpointOption = Annotated[list[Path] | None, typer.Option(
    "--checkpoint", metavar="CHECKPOINT.json",
    help="a signed checkpoint of the registry's log (e.g. the registry site's checkpoint.json); "
         "repeatable")]
RegistryOption = Annotated[str | None, typer.Option(
    "--registry", envvar="POPCERT_REGISTRY",
    help="SQLite file or SQLAlchemy URL (postgresql+psycopg://...); "
         "default ~/.local/share/popcert/registry.sqlite3")]


def _say(text: str, *, err: bool = False) -> None:
    """Print to the terminal: system names, assessors, reasons and paths come from a vendor's
    report or a command line, so escapes and control characters (bidi overrides, ESC) are removed
    as in report.html; JSON stays valid (only characters inside its strings go)."""
    typer.echo(strip_control(text), err=err)


def _shown(value: Any) -> Any:
    """A JSON value to print: every string in it without control characters (the JSON escape
    of an ESC, \\u001b, would come back as an ESC in whatever reads it)."""
    return walk_bounded(value, lambda _key, item: WALK if isinstance(item, (dict, list, tuple))
                        else strip_control(item) if isinstance(item, str) else item)


def _registry(location: str | None) -> Any:
    from harness.certificate.registry import Registry

    return Registry(location)


def _trusted(store: Path | None) -> list[Any]:
    from harness.certificate.issue import trusted_public_keys

    return trusted_public_keys(store)


@certificate_app.command("issue", epilog=epilog("certificate issue"))
@user_errors
def issue(
    report: Annotated[Path, typer.Argument(help="a signed, CERTIFIED report.json")],
    key: Annotated[Path, typer.Option("--key", "-k", help="the assessor's NAME.key.pem")],
    assessor: Annotated[str, typer.Option(help="the assessor's name, printed on the certificate")],
    out_dir: Annotated[Path | None, typer.Option("--out-dir", "-o",
                                                 help="default: the report's folder")] = None,
    registry: RegistryOption = None,
    trust_store: TrustStoreOption = None,
    pdf: Annotated[bool, typer.Option("--pdf", help="also print certificate.pdf with headless "
                                                    "Chromium (Debian's chromium)")] = False,
    allow_lab_target: Annotated[str | None, typer.Option(
        "--allow-lab-target", metavar="REASON",
        help="certify a target on a loopback or link-local address (a lab), saying why; the "
             "reason is recorded in the certificate")] = None,
) -> None:
    """Issue certificate.json (+ .sig, + certificate.html) and record it in the registry.

    Only from a full run (not --quick, not `popcert demo`) of a vendor's system; refusals say why.
    """
    from harness.certificate.issue import issue_certificate

    issued = issue_certificate(report, key, registry=_registry(registry), assessor=assessor,
                               out_dir=out_dir, trust_store=trust_store,
                               allow_lab_target=allow_lab_target)
    document = issued.certificate.document
    if pdf:
        from harness.certificate.page import PDF_NAME, print_pdf

        try:
            _say(f"pdf:         {print_pdf(issued.page_path, issued.path.with_name(PDF_NAME))}")
        except PopcertError as problem:  # the certificate stands; only its PDF copy is missing
            _say(f"warning: {problem}", err=True)
    system = strip_control(str(document['system']['name']), keep_newlines=False)
    _say(f"issued {issued.certificate.serial} to {system}, valid until {document['not_after']}")
    if "lab_target" in document:
        _say(f"lab target:  {document['lab_target']['why']}; recorded reason: "
             f"{strip_control(document['lab_target']['reason'], keep_newlines=False)}")
    _say(f"certificate: {issued.path}\nsignature:   {issued.signature_path}\n"
         f"page:        {issued.page_path}")


@certificate_app.command("list", epilog=epilog("certificate list"))
@user_errors
def list_certificates(
    registry: RegistryOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Every certificate in the registry with its status today."""
    registered = _registry(registry).certificates()
    moment = now_utc()
    rows = [{"serial": r.certificate.serial, "system": r.certificate.system_name,
             "issued_at": r.certificate.document["issued_at"],
             "not_after": r.certificate.document["not_after"],
             "status": status_on(r.certificate.not_after, r.revoked, moment)} for r in registered]
    if as_json:
        _say(json.dumps(_shown(rows), ensure_ascii=False, indent=2))
        return
    if not rows:
        _say("no certificates")
    for row in rows:
        system = strip_control(row["system"], keep_newlines=False)
        _say(f"{row['serial']}  {row['status']:9} {row['not_after'][:10]}  {system}")


@certificate_app.command("show", epilog=epilog("certificate show"))
@user_errors
def show(
    serial: Annotated[str, typer.Argument(help="a serial, or a certificate.json file")],
    registry: RegistryOption = None,
) -> None:
    """Print one certificate (and its revocation, if any)."""
    from harness.certificate.verify import describe, pretty

    if Path(serial).is_file():
        described = describe(Certificate.read(Path(serial)))
    else:
        found = _registry(registry).get(serial)
        if found is None:
            raise CertificateError(f"no certificate {serial} in the registry")
        described = describe(found.certificate)
        described["status"] = status_on(found.certificate.not_after, found.revoked, now_utc())
        if found.revoked:
            described["revoked"] = {"at": found.revoked_at, "reason": found.revoked_reason}
    _say(pretty(_shown(described)))


@certificate_app.command("revoke", epilog=epilog("certificate revoke"))
@user_errors
def revoke(
    serial: Annotated[str, typer.Argument(help="the certificate's serial")],
    reason: Annotated[str, typer.Option(help="why, as the registry site will show it")],
    key: Annotated[Path, typer.Option("--key", "-k", help="the assessor's NAME.key.pem")],
    registry: RegistryOption = None,
    trust_store: TrustStoreOption = None,
) -> None:
    """Revoke a certificate: a signed entry in the registry's log."""
    from harness.certificate.issue import trusted_signing_key

    entry = _registry(registry).revoke(serial, reason, trusted_signing_key(key, trust_store))
    _say(f"revoked {serial} (log entry {entry.seq}, {entry.entry_hash})")


@certificate_app.command("verify", epilog=epilog("certificate verify"))
@user_errors
def verify(
    certificate: Annotated[Path, typer.Argument(help="certificate.json")],
    signature: Annotated[Path | None, typer.Option("--signature", "-s",
                                                    help="default: CERTIFICATE.sig")] = None,
    registry: RegistryOption = None,
    trust_store: TrustStoreOption = None,
    checkpoint: CheckpointOption = None,
) -> None:
    """Check signature, trust store, dates, revocation and the registry log. Exit 0/1/2.

    The log must extend every signed checkpoint: given, beside the database, and seen before.
    """
    from harness.certificate.verify import verify_certificate

    signature_path = signature or certificate.with_name(certificate.name + ".sig")
    check = verify_certificate(certificate, signature_path, registry=_registry(registry),
                               trusted=_trusted(trust_store), checkpoints=checkpoint or [])
    if check.valid:
        _say(f"VALID: certificate {check.serial}, {check.status}")
        raise typer.Exit(EXIT_OK)
    _say(f"INVALID: certificate {check.serial}")
    for reason in check.reasons:
        _say(f"  - {strip_control(reason, keep_newlines=False)}")
    raise typer.Exit(EXIT_FAILED)


@registry_app.command("site", epilog=epilog("registry site"))
@user_errors
def site(
    out_dir: Annotated[Path, typer.Argument(help="folder for index.html")],
    registry: RegistryOption = None,
    trust_store: TrustStoreOption = None,
    checkpoint: CheckpointOption = None,
    key: Annotated[Path | None, typer.Option(
        "--key", "-k", help="sign a fresh checkpoint of the log with this assessor key "
                            "(default: publish the newest one beside the database)")] = None,
) -> None:
    """Write the static registry site (every system, status, history, trend) and checkpoint.json.

    Refuses a log shorter than, or inconsistent with, a signed checkpoint of it.
    """
    from harness.certificate.issue import trusted_signing_key
    from harness.certificate.site import render_site

    signing = trusted_signing_key(key, trust_store) if key is not None else None
    index = render_site(_registry(registry), out_dir, trusted=_trusted(trust_store),
                        checkpoints=checkpoint or [], key=signing)
    _say(f"site: {index}")
    published = index.with_name("checkpoint.json")
    if published.is_file():
        _say(f"checkpoint: {published} (publish it with the site; verify against it with "
             "`popcert certificate verify --checkpoint`)")
