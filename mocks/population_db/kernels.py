"""The population's hash kernels: splitmix64, the inverse Feistel permutation of ID serials, and
a citizen's name and date of birth drawn from its hashes.

``_kernels.c`` implements them in C (built by ``pip install``, see setup.py); this module is the
pure-Python definition and the fallback when the C module is not built. They are the hot path
of identity verification, where Python's big-int arithmetic costs more than everything else.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable

M64 = (1 << 64) - 1
FEISTEL_ROUNDS = 4
ROUND_SALT = 7919


def py_mix(x: int) -> int:
    """splitmix64 finaliser: a fast, well-distributed 64-bit hash of an integer (mod 2**64)."""
    x = (x + 0x9E3779B97F4A7C15) & M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M64
    return x ^ (x >> 31)


def feistel_round(x: int, key: int, rnd: int) -> int:
    return py_mix(key + rnd * ROUND_SALT + x) % 1000


def scramble(serial: int, key: int) -> int:
    """Keyed permutation of 0..999,999: the 6 serial digits of a personal ID."""
    left, right = divmod(serial, 1000)
    for rnd in range(FEISTEL_ROUNDS):
        left, right = right, (left + feistel_round(right, key, rnd)) % 1000
    return left * 1000 + right


def py_unscramble(digits: int, key: int) -> int:
    """Inverse of ``scramble``."""
    left, right = divmod(digits, 1000)
    for rnd in reversed(range(FEISTEL_ROUNDS)):
        left, right = (right - feistel_round(left, key, rnd)) % 1000, left
    return left * 1000 + right


_MONTH_DAYS = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # calendar.mdays
NameTables = tuple[tuple[str, ...], tuple[int, ...], tuple[str, ...], tuple[str, ...],
                   tuple[str, ...], tuple[str, ...]]


def py_name_and_birth(tables: NameTables, key: int, index: int, chunk: int, year: int,
                      gender: int, household: int, salt: int) -> tuple[str, str]:
    """(full name, date of birth YYYY-MM-DD) of a citizen. ``tables`` is (family names, their
    cumulative weights, male middle names, female middle names, male given names, female given
    names); the family name is drawn from the household hash salted with ``salt`` (children
    carry their father's), the rest from the citizen's own hash."""
    family_names, family_cums, middle_male, middle_female, given_male, given_female = tables
    h = py_mix(key ^ (index * 0x9E3779B1 + 17))
    hh = py_mix(key ^ (chunk * 64 + household))
    month = 1 + h % 12
    # calendar.monthrange(year, month)[1], spelled out (proleptic Gregorian, as calendar).
    days = _MONTH_DAYS[month] + (month == 2 and year % 4 == 0
                                 and (year % 100 != 0 or year % 400 == 0))
    family = family_names[bisect_right(family_cums, py_mix(hh ^ salt) % family_cums[-1])]
    middles = middle_female if gender else middle_male
    givens = given_female if gender else given_male
    return (f"{family} {middles[(h >> 12) % len(middles)]} {givens[(h >> 16) % len(givens)]}",
            f"{year:04d}-{month:02d}-{1 + (h >> 4) % days:02d}")


mix: Callable[[int], int]
unscramble: Callable[[int, int], int]
name_and_birth: Callable[[NameTables, int, int, int, int, int, int, int], tuple[str, str]]
try:
    from popcert_npdb._kernels import (
        mix,
        name_and_birth,
        unscramble,
    )
    ACCELERATED = True
except ImportError:  # no C compiler at install time: same results, slower
    mix, unscramble, name_and_birth = py_mix, py_unscramble, py_name_and_birth
    ACCELERATED = False
