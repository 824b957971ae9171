"""Which files of a vendor's source tree the SAST checks read, and how a finding is identified.

Walks the tree once. Nothing is dropped silently: build/ and dist/ are vendor code like any other;
a symlink inside the tree is scanned once at its target, one leaving the tree is listed, not
followed; third-party environments (.venv, node_modules) and files over the size budget are listed
as not analysed, and a Python file among them fails the SAST checks unless the assessor's baseline
excludes it. Every finding gets a stable fingerprint an assessor can accept in a baseline.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

# Tool data, not source: only Python files found in them are analysed (a .py hidden there is not
# tool data), everything else is passed over.
TOOL_DIRS = frozenset({".git", ".hg", ".svn", "__pycache__", ".mypy_cache", ".pytest_cache",
                       ".ruff_cache"})
# Third-party environments: not the vendor's code, too large to scan; listed as not analysed, so an
# assessor excludes them in the baseline knowingly (a vendor cannot hide code there).
ENVIRONMENT_DIRS = frozenset({".venv", "venv", "node_modules", ".tox", "site-packages"})
PYTHON_SUFFIXES = frozenset({".py", ".pyw"})
# Python that runs but cannot be analysed here: compiled modules imported without their source
# (outside __pycache__) and packaged code. Listed as Python, so it fails unless excluded.
OPAQUE_PYTHON_SUFFIXES = frozenset({".pyc", ".pyo", ".whl", ".egg", ".pyz"})
# Text is streamed line by line, so these are budgets, not memory limits.
MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_TOTAL_BYTES = 512 * 1024 * 1024
BINARY_SNIFF_BYTES = 8192


@dataclass(frozen=True)
class SourceFile:
    path: Path
    relative: str  # posix path relative to the source root: what findings and baselines name
    size: int = 0
    is_python: bool = False


@dataclass(frozen=True)
class Skipped:
    """A file (or folder) no check analysed, and why; ``python`` ones fail the SAST checks."""

    relative: str
    reason: str
    python: bool = False


@dataclass(frozen=True)
class SourceInventory:
    root: Path
    files: tuple[SourceFile, ...]
    not_analysed: tuple[Skipped, ...] = field(default=())

    @property
    def skipped(self) -> tuple[tuple[str, str], ...]:
        """(relative path, why) of everything not analysed."""
        return tuple((s.relative, s.reason) for s in self.not_analysed)

    def python(self) -> list[SourceFile]:
        return [f for f in self.files if f.is_python]


def inventory(root: Path, max_bytes: int = MAX_FILE_BYTES,
              max_total_bytes: int = MAX_TOTAL_BYTES) -> SourceInventory:
    walk = _Walk(Path(root))
    files: list[SourceFile] = []
    skipped = list(walk.skipped)
    total = 0
    for relative, path in sorted(walk.found.items()):
        python = _python_name(path) or relative in walk.python_by_link
        try:
            size = path.stat().st_size
            with path.open("rb") as handle:
                head = handle.read(BINARY_SNIFF_BYTES)
        except OSError as unreadable:
            skipped.append(Skipped(relative, f"unreadable: {unreadable.strerror}", python))
            continue
        python = python or (not path.suffix and _python_shebang(head))
        if path.suffix in OPAQUE_PYTHON_SUFFIXES:
            skipped.append(Skipped(relative, "compiled or packaged Python, no source to analyse",
                                   True))
            continue
        if b"\0" in head:
            # A .py with NUL bytes is no source Python runs, but it must not pass unseen either.
            skipped.append(Skipped(relative, "binary file", python))
            continue
        if size > max_bytes:
            skipped.append(Skipped(relative, f"{size} bytes, over the {max_bytes}-byte "
                                             "per-file budget", python))
            continue
        if total + size > max_total_bytes:
            skipped.append(Skipped(relative, f"over the scan budget of {max_total_bytes} bytes "
                                             "for the whole tree", python))
            continue
        total += size
        files.append(SourceFile(path, relative, size, python))
    return SourceInventory(Path(root), tuple(files),
                           tuple(sorted(skipped, key=lambda s: s.relative)))


class _Walk:
    """One pass over the tree: regular files by relative path, plus what was not followed."""

    def __init__(self, root: Path) -> None:
        self.found: dict[str, Path] = {}
        self.skipped: list[Skipped] = []
        # Targets reached through a link named *.py: Python imports them, whatever their name.
        self.python_by_link: set[str] = set()
        self._links: list[tuple[str, Path]] = []
        if root.is_file():
            self.found[root.name] = root
            return
        self.root = root.resolve()
        self._walk(root)
        self._add_links()

    def _relative(self, path: Path, root: Path) -> str:
        return path.relative_to(root).as_posix()

    def _walk(self, root: Path) -> None:
        pending = [(root, False)]
        while pending:
            folder, tool_only = pending.pop()
            try:
                entries = list(os.scandir(folder))
            except OSError as unreadable:
                self.skipped.append(Skipped(self._relative(folder, root) + "/",
                                            f"folder unreadable: {unreadable.strerror}"))
                continue
            for entry in entries:
                path = Path(entry.path)
                relative = self._relative(path, root)
                if entry.is_symlink():
                    self._links.append((relative, path))
                elif entry.is_dir(follow_symlinks=False):
                    if entry.name in ENVIRONMENT_DIRS:
                        self._environment(relative, path)
                    else:
                        pending.append((path, tool_only or entry.name in TOOL_DIRS))
                elif entry.is_file(follow_symlinks=False) and (not tool_only or _python_name(path)):
                    self.found[relative] = path

    def _environment(self, relative: str, folder: Path) -> None:
        count = sum(1 for _ in _python_files(folder))
        self.skipped.append(Skipped(relative + "/", "third-party environment folder, not "
                                    f"analysed ({count} Python files)", count > 0))

    def _add_links(self) -> None:
        """A link to a file inside the tree is analysed once, at its target; others are listed."""
        seen = {path.resolve() for path in self.found.values()}
        for relative, link in sorted(self._links):
            python = _python_name(link)
            try:
                target = link.resolve(strict=True)
            except (OSError, RuntimeError):
                self.skipped.append(Skipped(relative, "broken or looping symlink", python))
                continue
            if not target.is_relative_to(self.root):
                self.skipped.append(Skipped(relative, "symlink to outside the source tree, "
                                                      "not followed", python or _python_name(target)))
            elif target.is_dir():
                continue  # its files are walked where they really are
            else:
                target_relative = target.relative_to(self.root).as_posix()
                if python:
                    self.python_by_link.add(target_relative)
                if target not in seen:
                    seen.add(target)
                    self.found[target_relative] = target


def _python_files(folder: Path) -> Iterator[Path]:
    for _, _, names in os.walk(folder):
        for name in names:
            if Path(name).suffix in PYTHON_SUFFIXES:
                yield Path(name)


def _python_name(path: Path) -> bool:
    return path.suffix in PYTHON_SUFFIXES


def _python_shebang(head: bytes) -> bool:
    first = head.split(b"\n", 1)[0]
    return first.startswith(b"#!") and b"python" in first


def read_text(source: SourceFile) -> str:
    return source.path.read_text(encoding="utf-8", errors="replace")


def read_lines(source: SourceFile) -> Iterator[str]:
    """The file's lines, streamed (a large file is never held whole)."""
    with source.path.open(encoding="utf-8", errors="replace", newline=None) as handle:
        for line in handle:
            yield line.rstrip("\n")


def fingerprint(rule: str, relative: str, line_text: str) -> str:
    """Stable across line moves: rule + file + the offending line's code, whitespace-normalised."""
    normalised = " ".join(line_text.split())
    return hashlib.sha256(f"{rule}\n{relative}\n{normalised}".encode()).hexdigest()[:16]


def matches_any(relative: str, globs: tuple[str, ...]) -> bool:
    name = relative.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatch(relative, g) or fnmatch.fnmatch(name, g) for g in globs)
