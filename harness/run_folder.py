"""The run folder, ``<output_dir>/<system slug>/<timestamp>/``, created without following a link.

A symbolic link planted at ``output_dir/<slug>`` (or at the run's own name) would send the run's
files (results, config, reports) into the folder it points to. Each level below ``output_dir`` is
made with ``mkdir`` and opened with ``O_NOFOLLOW`` relative to its parent's descriptor, so a link
is refused, never followed. ``output_dir`` itself is the config's choice and may be a link.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from harness.errors import ConfigError

_OPEN_FOLDER = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


def create_run_folder(output_dir: Path, slug: str, stamp: str,
                      config_file: Path | str = "run.yaml") -> Path:
    """Create ``output_dir/slug/stamp`` (``slug`` may exist, ``stamp`` may not) and return it.

    Raises ConfigError (field ``output_dir``) when a level is a symbolic link or not a folder,
    when the run's folder already exists, or when ``output_dir`` cannot be created.
    """
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        parent = os.open(output_dir, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0))
    except OSError as problem:
        raise ConfigError(config_file, "output_dir", f"cannot create or open {output_dir} "
                          f"({problem.strerror})", "choose a folder you can write to") from None
    try:
        where = output_dir
        for name, may_exist in ((slug, True), (stamp, False)):
            where = where / name
            try:
                os.mkdir(name, dir_fd=parent)  # mkdir never follows a link at its last component
            except FileExistsError:
                if not may_exist:
                    raise ConfigError(config_file, "output_dir", f"{where} already exists",
                                      "start the run again (each run gets a new folder)") from None
            except OSError as problem:
                raise ConfigError(config_file, "output_dir", f"cannot create {where} "
                                  f"({problem.strerror})", "choose a folder you can write to") from None
            try:
                child = os.open(name, _OPEN_FOLDER, dir_fd=parent)
            except OSError:
                raise _not_a_real_folder(where, name, parent, config_file) from None
            os.close(parent)
            parent = child
    finally:
        os.close(parent)
    # Belt and braces: the path the run writes through must land where it was created.
    expected = output_dir.resolve() / slug / stamp
    if where.resolve() != expected:
        raise ConfigError(config_file, "output_dir", f"{where} resolves to {where.resolve()}, "
                          "outside the folder popcert created", "remove the symbolic link")
    return where


def _not_a_real_folder(where: Path, name: str, parent: int, config_file: Path | str) -> ConfigError:
    try:
        mode = os.stat(name, dir_fd=parent, follow_symlinks=False).st_mode
    except OSError:
        mode = 0
    what = "a symbolic link" if stat.S_ISLNK(mode) else "not a folder"
    return ConfigError(config_file, "output_dir", f"{where} is {what}: popcert writes a run "
                       "only into a real folder it created, never through a link",
                       f"remove {where} or set output_dir to another folder")
