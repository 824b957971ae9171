"""The canonical report document: its bytes, its JSON Schema, and where the schemas live.

report.json on disk IS ``canonical_json(report)``, so the detached signature can be checked by
plain OpenSSL over the file itself, without re-serialising.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema

from harness import resources

REPO_ROOT = Path(__file__).resolve().parents[2]
SCHEMA_DIR = resources.schema_dir()
TEMPLATE_DIR = resources.templates_dir()
REPORT_SCHEMA = SCHEMA_DIR / "report.schema.json"
SCHEMA_VERSION = "1.0"


@lru_cache(maxsize=1)
def report_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(REPORT_SCHEMA.read_text(encoding="utf-8"))
    return schema


def schema_errors(report: Any, limit: int = 5) -> list[str]:
    """Human-readable schema violations (``path: message``), empty when the report is valid."""
    validator = jsonschema.Draft202012Validator(report_schema())
    found = sorted(validator.iter_errors(report), key=lambda e: list(e.absolute_path))
    return [f"{_path(e.absolute_path)}: {e.message}" for e in found[:limit]]


def _path(parts: Any) -> str:
    text = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)
    return text.lstrip(".") or "(root)"
