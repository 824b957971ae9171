"""Fixtures for the reference city system's unit tests: defect switches and in-process tokens."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from popcert_city import defects


@pytest.fixture(autouse=True)
def no_defects() -> Iterator[None]:
    defects.configure([])  # ignore CITY_DEFECTS from the environment
    yield
    defects.configure([])


@pytest.fixture
def switch() -> Callable[..., None]:
    """``switch("auth.bola")`` turns defect switches on for this test."""
    def turn_on(*names: str) -> None:
        defects.configure(names)
    return turn_on


@pytest.fixture(scope="session")
def minter(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from popcert_npdb.tokens import TokenMinter
    return TokenMinter(Path(tmp_path_factory.mktemp("npdb-keys")))


# test_app's in-process city system (the `api` fixture), for test_access_switches too: imported
# here, not into that module, where every test's own `api` parameter would shadow the import.
from tests.unit.city.test_app import api  # noqa: F401
