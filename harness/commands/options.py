"""Options more than one command takes, declared once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from harness.signing.trust import TRUST_STORE_ENV

TrustStoreOption = Annotated[Path | None, typer.Option(
    "--trust-store", envvar=TRUST_STORE_ENV,
    help="folder of trusted assessor keys (default: $XDG_CONFIG_HOME/popcert/trusted_keys, "
         "where `popcert keys trust` puts them)")]
