"""How every popcert command ends: one set of exit codes and one error decorator.

Exit codes: 0 certified / valid / done, 1 not certified / invalid / regressed, 2 a user error
(bad input, a missing file, an unusable key) or a harness bug.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from functools import wraps
from typing import Any

import typer
from rich.console import Console

from harness.errors import PopcertError

EXIT_OK, EXIT_FAILED, EXIT_ERROR = 0, 1, 2

console = Console(stderr=True)


def user_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """A user error is one line and exit 2; a harness bug is a traceback, exit 2 and a plea."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except PopcertError as error:
            from rich.markup import escape

            from harness.untrusted import strip_control

            # The message may quote vendor input: no markup or terminal escapes from it.
            console.print(f"[bold red]error:[/] {escape(strip_control(str(error)))}",
                          highlight=False, markup=True, soft_wrap=True)
            raise typer.Exit(EXIT_ERROR) from None
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except KeyboardInterrupt:
            console.print("interrupted")
            raise typer.Exit(EXIT_ERROR) from None
        except Exception:  # noqa: BLE001 - the last line of defence
            traceback.print_exc()
            console.print("[bold red]popcert hit an internal error.[/] This is a bug in the "
                          "harness, not in your system: please report it with the traceback above.")
            raise typer.Exit(EXIT_ERROR) from None

    return wrapper
