"""What this harness knows: its own version and the spec files (name, version, sha256).

The engine records ``current_specs()`` in every report; ``popcert verify`` refuses a report that
names a harness or spec version this repository does not know, so a report cannot claim
conformance to a spec that was never published.
"""

from __future__ import annotations

import hashlib
from importlib import metadata
from pathlib import Path

from harness import resources

SPECS_DIR = resources.specs_dir()
# OpenAPI specs are versioned by folder (specs/<name>/v1/openapi.yaml).
VERSIONED_SPECS = ("npdb", "connection")


def harness_version() -> str:
    try:
        return metadata.version("popcert")
    except metadata.PackageNotFoundError:  # running from a bare checkout
        return "0.1.0"


def known_harness_versions() -> set[str]:
    return {harness_version()}


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def current_specs(specs_dir: Path = SPECS_DIR) -> dict[str, dict[str, str]]:
    """The newest version of each spec, as the report's ``specs`` mapping."""
    current: dict[str, dict[str, str]] = {}
    for name, versions in known_specs(specs_dir).items():
        newest = max(versions, key=_version_key)
        current[name] = {"version": newest, "sha256": versions[newest]}
    return current


def known_specs(specs_dir: Path = SPECS_DIR) -> dict[str, dict[str, str]]:
    """Every spec version shipped in this repo: ``{name: {version: sha256}}``."""
    known: dict[str, dict[str, str]] = {}
    for name in VERSIONED_SPECS:
        for spec in sorted((specs_dir / name).glob("v*/openapi.yaml")):
            known.setdefault(name, {})[spec.parent.name] = sha256_file(spec)
    # The national firewall baseline: one file per version, specs/firewall/baseline*.yaml|.json.
    for baseline in sorted((specs_dir / "firewall").glob("baseline*")):
        if baseline.is_file():
            version = baseline.stem.removeprefix("baseline").strip("-_.") or "baseline"
            known.setdefault("firewall", {})[version] = sha256_file(baseline)
    return known


def _version_key(version: str) -> tuple[int, ...]:
    digits = "".join(c if c.isdigit() else " " for c in version).split()
    return tuple(int(d) for d in digits) or (0,)
