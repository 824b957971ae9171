"""Vietnamese texts of the checks (harness/report/catalogue_vi.yaml), keyed by check id.

The report shows a check's title and outcome in both languages; the English title comes from the
check's declaration (``@check(title=...)``, else its docstring's first paragraph), the Vietnamese
one from this catalogue. Both are one whole sentence (``sentence_problem``). The requirement texts in both
languages come from the requirements catalogue (specs/requirements.yaml).
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import yaml

CATALOGUE_VI = Path(__file__).resolve().parent / "catalogue_vi.yaml"
FIELDS = ("title", "fail")


@lru_cache(maxsize=1)
def catalogue_vi() -> dict[str, dict[str, str]]:
    raw = yaml.safe_load(CATALOGUE_VI.read_text(encoding="utf-8")) or {}
    return {str(check_id): {k: str(v) for k, v in (entry or {}).items()}
            for check_id, entry in raw.items()}


def missing_entries(check_ids: list[str]) -> dict[str, list[str]]:
    """``{check_id: [missing fields]}`` for registered checks the catalogue does not cover."""
    catalogue = catalogue_vi()
    missing: dict[str, list[str]] = {}
    for check_id in sorted(check_ids):
        entry = catalogue.get(check_id, {})
        gaps = [f for f in FIELDS if not entry.get(f, "").strip()]
        if gaps:
            missing[check_id] = gaps
    return missing


_BRACKETS = {")": "(", "]": "[", "}": "{"}
# A title cut where its docstring wrapped ends on a word like these, never on a full stop.
_SENTENCE_END = re.compile(r"[.!?][)\"'»”]?$")


def sentence_problem(text: str) -> str | None:
    """Why ``text`` is not one whole sentence (a check title), or None when it is one.

    A title cut where its docstring wrapped ("refused with 413, on every") has no full stop and
    often an open bracket: both are caught, as are empty and multi-line titles.
    """
    if not text or not text.strip():
        return "it is empty"
    if text != text.strip() or "\n" in text or "  " in text:
        return "it is not one line of single-spaced text"
    if not (text[0].isupper() or text[0].isdigit()):
        return "it does not start with a capital letter or a digit"
    if not _SENTENCE_END.search(text):
        return "it does not end with a full stop (cut where its docstring wrapped?)"
    stack: list[str] = []
    for char in text:
        if char in "([{":
            stack.append(char)
        elif char in _BRACKETS and (not stack or stack.pop() != _BRACKETS[char]):
            return f"its brackets do not match (an unopened {char!r})"
    if stack:
        return f"its brackets do not match ({stack[-1]!r} is never closed)"
    return None
