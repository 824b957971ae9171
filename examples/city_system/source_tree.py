"""The reference city system's source tree as a vendor would hand it over, for the SAST suite.

``source(defects, out_dir)`` copies the system's Python source (without tests and without the
defect machinery itself) and, for each ``sast.*`` switch, adds its overlay file from
``sast_defects/``, so each SAST check can be shown to catch exactly its defect.
"""

from __future__ import annotations

import shutil
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
OVERLAY_DIR = PACKAGE_DIR / "sast_defects"
# Switch -> overlay file, copied as <out_dir>/city_system/<name>.
OVERLAYS: dict[str, str] = {
    "sast.verify_false": "verify_false.py",
    "sast.hardcoded_secret": "hardcoded_secret.py",
    "sast.tls_verify_session": "tls_verify_session.py",
    "sast.tls_verify_dodged": "tls_verify_dodged.py",
}
SAST_DEFECTS = frozenset(OVERLAYS)
# Not part of the system a vendor ships: the defect machinery and anything test-only.
EXCLUDED_DIRS = frozenset({"sast_defects", "tests", "__pycache__"})
EXCLUDED_FILES = frozenset({"source_tree.py"})


def source(defects: frozenset[str], out_dir: Path) -> Path:
    """Write the source tree under ``out_dir/city_system`` and return that folder."""
    root = Path(out_dir) / "city_system"
    if root.exists():
        shutil.rmtree(root)  # a previous run with other switches must not leave overlays behind
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        relative = path.relative_to(PACKAGE_DIR)
        if set(relative.parts[:-1]) & EXCLUDED_DIRS or relative.name in EXCLUDED_FILES \
                or relative.name.startswith("test_"):
            continue
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    for switch in sorted(defects & SAST_DEFECTS):
        shutil.copyfile(OVERLAY_DIR / OVERLAYS[switch], root / OVERLAYS[switch])
    return root
