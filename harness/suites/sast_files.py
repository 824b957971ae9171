"""Which files of a vendor's source tree the SAST checks read, and how a finding is identified.

Walks the tree once, skipping tool and VCS folders, huge files and binaries (reported, never
crashing the scan); gives every finding a stable fingerprint an assessor can accept in a baseline.
"""

from __future__ import annotations

import fnmatch
import hashlib
from dataclasses import dataclass
from pathlib import Path

SKIPPED_DIRS = frozenset({".git", ".hg", ".svn", "__pycache__", ".venv", "venv", "node_modules",
                          ".mypy_cache", ".pytest_cache", ".ruff_cache", ".tox", "build", "dist"})
# A larger file is generated or vendored; reading it would only slow the run.
MAX_FILE_BYTES = 2_000_000
BINARY_SNIFF_BYTES = 8192


@dataclass(frozen=True)
class SourceFile:
    path: Path
    relative: str  # posix path relative to the source root: what findings and baselines name


@dataclass(frozen=True)
class SourceInventory:
    root: Path
    files: tuple[SourceFile, ...]
    skipped: tuple[tuple[str, str], ...]  # (relative path, why)

    def python(self) -> list[SourceFile]:
        return [f for f in self.files if f.path.suffix == ".py"]


def inventory(root: Path, max_bytes: int = MAX_FILE_BYTES) -> SourceInventory:
    files: list[SourceFile] = []
    skipped: list[tuple[str, str]] = []
    for path in sorted(_walk(root)):
        relative = path.name if root.is_file() else path.relative_to(root).as_posix()
        try:
            size = path.stat().st_size
            if size > max_bytes:
                skipped.append((relative, f"{size} bytes, over the {max_bytes}-byte limit"))
                continue
            with path.open("rb") as handle:
                if b"\0" in handle.read(BINARY_SNIFF_BYTES):
                    skipped.append((relative, "binary file"))
                    continue
        except OSError as unreadable:
            skipped.append((relative, f"unreadable: {unreadable.strerror}"))
            continue
        files.append(SourceFile(path, relative))
    return SourceInventory(root, tuple(files), tuple(skipped))


def _walk(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    found: list[Path] = []
    pending = [root]
    while pending:
        folder = pending.pop()
        try:
            entries = list(folder.iterdir())
        except OSError:
            continue
        for entry in entries:
            if entry.is_symlink():
                continue  # a link may leave the tree or loop
            if entry.is_dir():
                if entry.name not in SKIPPED_DIRS:
                    pending.append(entry)
            elif entry.is_file():
                found.append(entry)
    return found


def read_text(source: SourceFile) -> str:
    return source.path.read_text(encoding="utf-8", errors="replace")


def fingerprint(rule: str, relative: str, line_text: str) -> str:
    """Stable across line moves: rule + file + the offending line's code, whitespace-normalised."""
    normalised = " ".join(line_text.split())
    return hashlib.sha256(f"{rule}\n{relative}\n{normalised}".encode()).hexdigest()[:16]


def matches_any(relative: str, globs: tuple[str, ...]) -> bool:
    name = relative.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatch(relative, g) or fnmatch.fnmatch(name, g) for g in globs)
