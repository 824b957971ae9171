"""What the list checks keep in ``AuthState.list_fill``: the portal's dossiers the probe knows
exist (its own module, so the context can name it without importing the checks)."""

from __future__ import annotations

from dataclasses import dataclass

from harness.suites.auth.probe import Probe


@dataclass(frozen=True)
class OwnDossiers:
    """The portal's dossiers the probe knows exist: listed before, or created by the fill."""

    created: tuple[str, ...]  # created by the fill, oldest first
    known: frozenset[str]
    problem: Probe | None = None  # a submission or listing that did not work

    def enough(self, needed: int) -> bool:
        return self.problem is None and len(self.known) >= needed
