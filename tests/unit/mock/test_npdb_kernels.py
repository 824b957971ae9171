"""The C hash kernels give bit-for-bit the results of their pure-Python definitions.

The population (every personal ID, name and date of birth) is derived from these two functions,
so a machine with the C module and one without must generate the same citizens.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from popcert_npdb import kernels
from popcert_npdb.population import Population

accelerated = pytest.mark.skipif(not kernels.ACCELERATED,
                                 reason="the C kernels were not built (no compiler at install)")
any_int = st.integers(min_value=-(1 << 80), max_value=1 << 80)


@accelerated
@settings(max_examples=2000, deadline=None)
@given(any_int)
def test_mix_matches_python(x: int) -> None:
    assert kernels.mix(x) == kernels.py_mix(x)


@accelerated
@settings(max_examples=2000, deadline=None)
@given(st.integers(min_value=0, max_value=999_999), any_int)
def test_unscramble_matches_python(digits: int, key: int) -> None:
    assert kernels.unscramble(digits, key) == kernels.py_unscramble(digits, key)


@settings(max_examples=500, deadline=None)
@given(st.integers(min_value=0, max_value=999_999), st.integers(min_value=0, max_value=(1 << 64) - 1))
def test_unscramble_inverts_scramble(serial: int, key: int) -> None:
    assert kernels.unscramble(kernels.scramble(serial, key), key) == serial


def test_known_values() -> None:
    # Pinned: a change here changes every generated citizen.
    assert kernels.py_mix(0) == 0xE220A8397B1DCDAF
    assert kernels.mix(0) == 0xE220A8397B1DCDAF


@accelerated
def test_bad_arguments_raise_not_crash() -> None:
    with pytest.raises(TypeError):
        kernels.mix("1")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        kernels.unscramble(1)  # type: ignore[call-arg]
    with pytest.raises(ValueError):
        kernels.unscramble(1_000_000, 1)


POPULATION = Population(seed=6, size=100_000_000)


@accelerated
@settings(max_examples=2000, deadline=None)
@given(st.integers(min_value=0, max_value=(1 << 64) - 1), st.integers(min_value=0, max_value=10**9),
       st.integers(min_value=0, max_value=10**8), st.integers(min_value=1800, max_value=2100),
       st.integers(min_value=0, max_value=1), st.integers(min_value=0, max_value=15),
       st.integers(min_value=0, max_value=15))
def test_name_and_birth_matches_python(key: int, index: int, chunk: int, year: int, gender: int,
                                       household: int, salt: int) -> None:
    args = (POPULATION._name_tables, key, index, chunk, year, gender, household, salt)
    assert kernels.name_and_birth(*args) == kernels.py_name_and_birth(*args)


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=POPULATION.size - 1))
def test_identity_fast_path_agrees_with_full_record(index: int) -> None:
    citizen = POPULATION.citizen(index)
    assert POPULATION.identity(citizen.personal_id) == (citizen.full_name, citizen.date_of_birth)


@accelerated
def test_name_and_birth_refuses_bad_tables() -> None:
    good = POPULATION._name_tables
    with pytest.raises(TypeError):
        kernels.name_and_birth(good[:5], 1, 1, 1, 2000, 0, 0, 0)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        kernels.name_and_birth((*good[:2], (1, 2), *good[3:]), 1, 1, 1, 2000, 0, 0, 0)
    with pytest.raises(ValueError):
        kernels.name_and_birth(good, 1, 1, 1, 0, 0, 0, 0)
