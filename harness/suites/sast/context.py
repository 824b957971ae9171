"""What the SAST checks receive: a source tree that exists, its baseline and thresholds, and one
inventory and one Python analysis shared by the checks. A bad setting raises SuiteUnavailable."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from harness.checks import SuiteUnavailable
from harness.errors import ConfigError
from harness.suites.sast.bandit import LEVELS, PythonAnalysis, analyse_python
from harness.suites.sast.baseline import Baseline, load_baseline
from harness.suites.sast.files import SourceInventory, inventory
from harness.suites.sast.secrets import DEFAULT_ALLOWLIST

if TYPE_CHECKING:
    from harness.run_context import RunContext


@dataclass(frozen=True)
class SastContext:
    """What the SAST checks receive: a source tree that exists, its baseline and thresholds."""

    source_path: Path
    baseline: Baseline = field(default_factory=Baseline)
    min_severity: str = "medium"
    min_confidence: str = "medium"
    secrets_allowlist: tuple[str, ...] = DEFAULT_ALLOWLIST
    _inventory: list[SourceInventory] = field(default_factory=list, compare=False, repr=False)
    _analysis: list[PythonAnalysis] = field(default_factory=list, compare=False, repr=False)

    def files(self) -> SourceInventory:
        """The source inventory, built once and shared by every check."""
        if not self._inventory:
            self._inventory.append(inventory(self.source_path))
        return self._inventory[0]

    def python(self) -> PythonAnalysis:
        """Bandit and the TLS rule over the Python files, run once (in bounded children)."""
        if not self._analysis:
            self._analysis.append(analyse_python(self.files()))
        return self._analysis[0]


def source_context(source_path: Path | None, baseline_path: Path | None = None,
                   min_severity: str = "medium", min_confidence: str = "medium",
                   allowlist: tuple[str, ...] = DEFAULT_ALLOWLIST,
                   config_label: str = "run.yaml") -> SastContext:
    """Validate the source settings into a context; a bad setting raises SuiteUnavailable (every
    SAST check reports `error` with the ConfigError's one line)."""
    for name, level in (("min_severity", min_severity), ("min_confidence", min_confidence)):
        if level.lower() not in LEVELS:
            raise SuiteUnavailable(ConfigError(
                "profile", f"thresholds.sast.{name}", f"{level!r} is not a level",
                f"one of {', '.join(LEVELS)}").one_line())
    if source_path is None:
        raise SuiteUnavailable(ConfigError(
            config_label, "source.path", "not set: there is no source tree to analyse",
            "point source.path at the vendor's source (e.g. ./src)").one_line())
    if not Path(source_path).exists():
        raise SuiteUnavailable(ConfigError(
            config_label, "source.path", f"{source_path} does not exist",
            "point source.path at the vendor's source tree").one_line())
    try:
        baseline = load_baseline(baseline_path, config_label)
    except ConfigError as bad:
        raise SuiteUnavailable(bad.one_line()) from None
    return SastContext(Path(source_path), baseline, min_severity.lower(), min_confidence.lower(),
                       allowlist)


def make_context(run: RunContext) -> Iterator[SastContext]:
    """Resolve source.path, the baseline and the profile's thresholds; scanning happens per check."""
    source = run.config.source
    label = str(run.config.source_file or "run.yaml")
    allowlist = run.threshold("sast", "secrets_allowlist", None)
    yield source_context(
        source.path if source else None, source.baseline if source else None,
        str(run.threshold("sast", "min_severity", "medium")),
        str(run.threshold("sast", "min_confidence", "medium")),
        tuple(allowlist) if allowlist else DEFAULT_ALLOWLIST, label)
