"""Errors a person can act on. Each renders as one line naming the file, the field and the fix."""

from __future__ import annotations

from pathlib import Path


class PopcertError(Exception):
    """A user-facing error: the CLI prints it as one line and exits 2, without a traceback."""


class ConfigError(PopcertError):
    def __init__(self, path: Path | str, field: str, message: str, hint: str = "") -> None:
        self.path = str(path)
        self.field = field
        self.message = message
        self.hint = hint
        super().__init__(self.one_line())

    def one_line(self) -> str:
        where = f"{self.path}: {self.field}: " if self.field else f"{self.path}: "
        return where + self.message + (f" — {self.hint}" if self.hint else "")


class OutOfScopeError(PopcertError):
    """The harness was asked to send traffic to a host the run config does not declare."""
