"""A benchmark that needs a system tool it cannot find says so and is skipped, not failed.

``make bench`` first runs ``make sysdeps`` (scripts/sysdeps.sh), which installs the Debian tools
as ``make test`` does when it runs as root; without root (or apt) a bench needing one prints
``skipped: REASON`` and exits 0, so the other benchmarks still run and report.
"""

from __future__ import annotations

import shutil

SKIPPED = 0  # the exit code of a skipped benchmark: the bench loop goes on


def missing_tool(tool: str, package: str, bench: str) -> str | None:
    """None when ``tool`` is on PATH; otherwise the skip line (printed here too)."""
    if shutil.which(tool) is not None:
        return None
    reason = (f"{bench}: skipped: {tool} is not installed (`make sysdeps` installs the Debian "
              f"package {package} when run as root, or: sudo apt-get install {package})")
    print(reason, flush=True)
    return reason
