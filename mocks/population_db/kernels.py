"""The population's hash kernels: splitmix64 and the inverse Feistel permutation of ID serials.

``_kernels.c`` implements both in C (built by ``pip install``, see setup.py); this module is the
pure-Python definition and the fallback when the C module is not built. Identity verification
calls them five times a request, and in Python each 64-bit multiply-and-mask allocates big ints.
"""

from __future__ import annotations

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


mix: Callable[[int], int]
unscramble: Callable[[int, int], int]
try:
    from mocks.population_db._kernels import mix, unscramble  # type: ignore[no-redef]
    ACCELERATED = True
except ImportError:  # no C compiler at install time: same results, slower
    mix, unscramble = py_mix, py_unscramble
    ACCELERATED = False
