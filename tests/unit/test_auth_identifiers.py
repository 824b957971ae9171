"""AUTH-DOSSIER-ID's judgement, offline: what is a version-4 UUID in its textual form, and when
a set of valid v4 ids is still guessable (repeated, or a counter dressed as v4)."""

from __future__ import annotations

import uuid

import pytest

from harness.suites.auth.identifiers import MIN_DISTANCE, guessable, id_problem


def test_random_v4_ids_pass() -> None:
    ids = [str(uuid.uuid4()) for _ in range(3)]
    assert [id_problem(i) for i in ids] == [None, None, None]
    assert guessable(ids) is None


@pytest.mark.parametrize(("value", "words"), [
    # fixed values: xdist workers must collect the same test ids
    ("c232ab00-9414-11ec-b3c8-9f6bdeced846", "version-1 UUID"),
    ("0190f0e8-5c8a-7cc4-9a1e-2b6f0e9d1c44", "version-7 UUID"),
    ("3f1c2a5e-8d5b-4c1e-ca7e-2b6f0e9d1c44", "variant"),  # variant bits 110: Microsoft's
    ("42", "not a UUID"),
    (42, "not a string"),
    ("{3f1c2a5e-8d5b-4c1e-9a7e-2b6f0e9d1c44}", "textual form"),
    ("3f1c2a5e8d5b4c1e9a7e2b6f0e9d1c44", "textual form"),
])
def test_anything_but_a_v4_uuid_is_named(value: object, words: str) -> None:
    problem = id_problem(value)
    assert problem is not None and words in problem


def test_a_counter_dressed_as_v4_is_guessable() -> None:
    counter = [str(uuid.UUID(int=(7 << 90) + n, version=4)) for n in range(3)]
    assert [id_problem(i) for i in counter] == [None, None, None]  # each looks like v4
    problem = guessable(counter)
    assert problem is not None and "sequential" in problem
    # far apart (a stride of 2**70) is not a counter's next id
    spread = [str(uuid.UUID(int=n << 70 | 1, version=4)) for n in (1, 5, 9)]
    assert (1 << 70) * 4 > MIN_DISTANCE and guessable(spread) is None


def test_a_repeated_id_is_guessable() -> None:
    one = str(uuid.uuid4())
    problem = guessable([one, str(uuid.uuid4()), one])
    assert problem is not None and "twice" in problem
