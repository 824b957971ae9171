"""The registry: which suites exist, which checks each runs and in what order.

Every suite is a package under ``harness/suites/`` made the same way:

- ``__init__.py``: its docstring only. Child processes (the SAST parser, the schemathesis
  child, locust's workers) import single modules of a suite package, which imports the
  package first: it must stay free.
- ``context.py``: what its checks receive (the context) and the factory that builds it.
- its check modules, which import the context from ``context.py`` (never from the package).
- ``suite.py``: the declaration, ``SUITE = Suite[XContext]("x", make_context, checks=(...),
  state={...})``: its name, stamped on every check it lists, its checks in run order, and the
  state a check may leave on the context for a later check.

The registry is built from a tuple of declaration modules (``harness.suite_names.DEFAULT_SUITES``,
in the spirit of pytest's ``default_plugins``) and handed to the engine, so a test runs the engine
on a registry of its own instead of patching a module global.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Generic, TypeAlias

from harness.checks import Check, CheckFunction, Ctx, check_of
from harness.suite_names import CHECK_ID_PREFIX, SUITE_NAMES

if TYPE_CHECKING:
    from harness.run_context import RunContext

# A generator: sets up (e.g. scans the TLS endpoint once), yields the context its checks receive,
# then tears down. Raising harness.checks.SuiteUnavailable before the yield turns every check of
# the suite into `error` with that summary and evidence.
ContextFactory: TypeAlias = Callable[["RunContext"], Iterator[Ctx]]


@dataclass(frozen=True)
class Suite(Generic[Ctx]):
    """A suite's declaration: ``Suite[AuthContext]("auth", make_context, checks=(...))``.

    ``state`` writes down what a check may leave on the context for a later check (attribute ->
    who sets it, who reads it, what a reader does when it is not set yet): a check's result must
    not depend on which checks ran before it, so such state is a cache any reader can fill. The
    rest of the context is set by the factory and only read.
    """

    name: str
    context: ContextFactory[Ctx]
    checks: tuple[CheckFunction[Ctx], ...]
    state: Mapping[str, str] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if self.name not in SUITE_NAMES:
            raise ValueError(f"unknown suite {self.name!r}; expected one of {SUITE_NAMES}")
        object.__setattr__(self, "state", MappingProxyType(dict(self.state)))

    def registered(self) -> list[Check]:
        """The checks it lists, in run order, each stamped with this suite's name."""
        prefix = CHECK_ID_PREFIX[self.name] + "-"
        registered = [check_of(function).in_suite(self.name) for function in self.checks]
        for check in registered:
            if not check.id.startswith(prefix):
                raise ValueError(f"check {check.id} is listed by suite {self.name!r}, whose "
                                 f"check ids start with {prefix}")
        return registered


class Registry:
    """The checks a run knows, by id, in suite order then each suite's declared check order."""

    def __init__(self, suites: Iterable[Suite[Any]]) -> None:
        self._suites: dict[str, Suite[Any]] = {}
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
        """The suites declared (``SUITE``) by these modules, e.g. ``harness.suites.auth.suite``."""
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

    def suite(self, name: str) -> Suite[Any] | None:
        return self._suites.get(name)

    def for_suite(self, name: str) -> list[Check]:
        return [c for c in self._checks.values() if c.suite == name]


def _suite_of(module: Any) -> Suite[Any]:
    suite = getattr(module, "SUITE", None)
    if not isinstance(suite, Suite):
        raise TypeError(f"{module.__name__} declares no SUITE = Suite(...)")
    return suite


@functools.cache
def default_registry() -> Registry:
    """Every suite popcert ships, imported once."""
    from harness.suite_names import DEFAULT_SUITES

    return Registry.from_modules(DEFAULT_SUITES)
