"""The registry: which suites exist, which checks each runs and in what order.

A suite is a package under ``harness/suites/`` whose ``__init__`` declares ``SUITE = Suite(...)``:
its name, its context factory and its checks in run order. The registry is built from a tuple of
such packages (``harness.suite_names.DEFAULT_SUITES``, in the spirit of pytest's ``default_plugins``)
and handed to the engine, so a test runs the engine on a registry of its own instead of patching
a module global.
"""

from __future__ import annotations

import functools
import importlib
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from harness.checks import Check, CheckFunction, check_of

# A generator: sets up (e.g. scans the TLS endpoint once), yields the object its checks receive,
# then tears down. Raising harness.checks.SuiteUnavailable before the yield turns every check of
# the suite into `error` with that summary and evidence.
ContextFactory = Callable[[Any], Iterator[Any]]


@dataclass(frozen=True)
class Suite:
    name: str
    context: ContextFactory
    checks: tuple[CheckFunction, ...]

    def registered(self) -> list[Check]:
        registered = [check_of(function) for function in self.checks]
        for check in registered:
            if check.suite != self.name:
                raise ValueError(f"check {check.id} says suite {check.suite!r} but is listed by "
                                 f"suite {self.name!r}")
        return registered


class Registry:
    """The checks a run knows, by id, in suite order then each suite's declared check order."""

    def __init__(self, suites: Iterable[Suite]) -> None:
        self._suites: dict[str, Suite] = {}
        self._checks: dict[str, Check] = {}
        for suite in suites:
            if suite.name in self._suites:
                raise ValueError(f"suite {suite.name!r} registered twice")
            self._suites[suite.name] = suite
            for check in suite.registered():
                if check.id in self._checks:
                    raise ValueError(f"check id {check.id} registered twice")
                self._checks[check.id] = check

    @classmethod
    def from_modules(cls, modules: Iterable[str]) -> Registry:
        return cls(_suite_of(importlib.import_module(name)) for name in modules)

    # --- look-ups ---------------------------------------------------------------------------
    def __iter__(self) -> Iterator[Check]:
        return iter(self._checks.values())

    def __len__(self) -> int:
        return len(self._checks)

    def __contains__(self, check_id: object) -> bool:
        return check_id in self._checks

    def __getitem__(self, check_id: str) -> Check:
        return self._checks[check_id]

    def get(self, check_id: str) -> Check | None:
        return self._checks.get(check_id)

    def ids(self) -> list[str]:
        return list(self._checks)

    def suites(self) -> list[str]:
        return list(self._suites)

    def suite(self, name: str) -> Suite | None:
        return self._suites.get(name)

    def for_suite(self, name: str) -> list[Check]:
        return [c for c in self._checks.values() if c.suite == name]


def _suite_of(module: Any) -> Suite:
    suite = getattr(module, "SUITE", None)
    if not isinstance(suite, Suite):
        raise TypeError(f"{module.__name__} declares no SUITE = Suite(...)")
    return suite


def declare_on_first_use(module_name: str, name: str, declare: Callable[[], Suite]) -> Suite:
    """A suite package's PEP 562 ``__getattr__``: ``SUITE`` (and the checks, pydantic and the
    requirements catalogue behind it) is built when first asked for. For packages whose modules
    child processes import (the SAST parser, locust, schemathesis's hooks): they stay light."""
    if name != "SUITE":
        raise AttributeError(f"module {module_name!r} has no attribute {name!r}")
    suite = declare()
    sys.modules[module_name].SUITE = suite  # type: ignore[attr-defined]
    return suite


@functools.cache
def default_registry() -> Registry:
    """Every suite popcert ships, imported once."""
    from harness.suite_names import DEFAULT_SUITES

    return Registry.from_modules(DEFAULT_SUITES)
