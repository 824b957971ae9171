"""Vietnamese texts of the checks (harness/report/catalogue_vi.yaml), keyed by check id.

The report shows a check's title and outcome in both languages; the English texts come from the
check's declaration, the Vietnamese ones from this catalogue. The requirement texts in both
languages come from the requirements catalogue (specs/requirements.yaml).
"""

from __future__ import annotations

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
