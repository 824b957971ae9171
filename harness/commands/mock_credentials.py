"""``popcert mock credential``: print one credential of a running mock NPDB, for a reproduction.

A reproduction command in a report names a genuine credential as a shell variable (a token of
the national token service, the portal's client certificate), never its value; the report's line
under it says how to get one, e.g. ``export TOKEN="$(popcert mock credential token --client
portal --scope 'dossier.read dossier.submit')"``. Forged tokens are not credentials: a report
shows them as sent.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from harness.commands.errors import user_errors
from harness.errors import PopcertError

STATE_DIR_ENV = "POPCERT_NPDB_STATE_DIR"
WHAT = ("token", "ca", "cert", "key")
KINDS = ("valid", "expired", "foreign")


def _state_dir(state_dir: Path) -> Path:
    if not (state_dir / "pki" / "ca.pem").exists() and not (state_dir / "ready.json").exists():
        raise PopcertError(f"{state_dir}: no mock NPDB state here — start one with `popcert mock "
                           f"serve --state-dir {state_dir}`, or pass --state-dir (or set "
                           f"{STATE_DIR_ENV}) to the folder of the running mock")
    return state_dir


@user_errors
def credential(
    what: Annotated[str, typer.Argument(help="token, ca, cert or key.")],
    client: Annotated[str, typer.Option(help="The registered client (clients.yaml).")] = "portal",
    scope: Annotated[str | None, typer.Option(
        help="Space-separated scopes of the token (default: all the client's).")] = None,
    audience: Annotated[str, typer.Option(help="The token's audience.")] = "connection-api",
    kind: Annotated[str, typer.Option(help="The client certificate: valid, expired or foreign "
                                           "(issued by a foreign CA).")] = "valid",
    state_dir: Annotated[Path, typer.Option(envvar=STATE_DIR_ENV,
                                            help="The running mock's state folder.")] = Path(
        ".popcert/npdb"),
) -> None:
    """Print a token of the mock's token service, or the path of its CA or a client's
    certificate or key.

    Examples:
      export TOKEN="$(popcert mock credential token --client portal --scope dossier.read)"
      export CLIENT_CERT="$(popcert mock credential cert --client portal --kind expired)"
    """
    if what not in WHAT:
        raise PopcertError(f"`{what}` is not a credential: choose one of {', '.join(WHAT)}")
    if kind not in KINDS:
        raise PopcertError(f"--kind {kind!r}: choose one of {', '.join(KINDS)}")
    from popcert_npdb.client import TestPKI, TokenMinter

    root = _state_dir(state_dir)
    if what == "token":
        ready = root / "ready.json"
        issuer = json.loads(ready.read_text(encoding="utf-8")).get("issuer") if ready.exists() \
            else None
        minter = TokenMinter(root, issuer=issuer) if issuer else TokenMinter(root)
        scopes = scope.split() if scope is not None else _client_scopes(root, client)
        typer.echo(minter.mint(client, scopes, audience=audience))
        return
    pki = TestPKI(root)
    if what == "ca":
        typer.echo(str(pki.ca_path))
        return
    issued = pki.client_cert_set(client)[kind]
    typer.echo(str(issued.cert_path if what == "cert" else issued.key_path))


def _client_scopes(root: Path, client: str) -> list[str]:
    import yaml

    path = root / "clients.yaml"
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else None
    for entry in (raw or {}).get("clients", []):
        if isinstance(entry, dict) and entry.get("client_id") == client:
            return [str(s) for s in entry.get("scopes", [])]
    raise PopcertError(f"{path}: no client {client!r} — pass --scope, or name a client of "
                       "clients.yaml with --client")
