"""The banner of a run that is not a certification: a demo (the bundled reference system) or a
--quick run. report.json carries it (``banner``), report.html shows it first, the terminal and
`popcert verify` print it."""

from __future__ import annotations

from collections.abc import Mapping

FULL, QUICK, DEMO = "full", "quick", "demo"
MODES = (FULL, QUICK, DEMO)
BANNER_EN = "DEMO / QUICK RUN: not a certification"
BANNER_VI = "CHẠY THỬ / CHẠY NHANH: không phải là chứng nhận"


def run_mode(*, quick: bool, demo: bool) -> str:
    return DEMO if demo else QUICK if quick else FULL


def banner_for(mode: str | None, quick: bool) -> dict[str, str] | None:
    """The report's ``banner`` for a run of this mode, None for a full run."""
    if mode in (QUICK, DEMO) or quick:
        return {"en": BANNER_EN, "vi": BANNER_VI}
    return None


def banner_line(banner: Mapping[str, str] | None) -> str | None:
    """One terminal line, both languages."""
    return f"{banner['en']} / {banner['vi']}" if banner else None
