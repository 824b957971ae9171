"""CPU seconds (user + system) a process has used so far, from Linux /proc: the benchmarks report
each process's cost per request with it."""

from __future__ import annotations

import os
from pathlib import Path


def cpu_seconds(pid: int) -> float:
    """Raises FileNotFoundError once the process is gone."""
    # Fields after the command name, which is in parentheses and may itself contain spaces.
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
