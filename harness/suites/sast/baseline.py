"""Accepted SAST findings (``source.baseline``): bandit's own JSON report, or a popcert YAML list.

YAML (both SAST checks) — each entry accepts one finding by the fingerprint shown in the report::

    accepted:
      - fingerprint: 3f9c0a1be2d4c5f6
        reason: "test-only HTTP call to a local stub, never deployed"   # required
        rule: B501            # optional, for the reader
        file: app/client.py   # optional, for the reader
    excluded:   # files the checks may leave unanalysed (too large, third-party, unparseable)
      - path: "vendor/protobuf/*_pb2.py"   # glob on the path relative to source.path
        reason: "generated stubs, reviewed with the generator"                  # required

bandit JSON (``bandit -r src -f json -o baseline.json``; SAST-BANDIT only) — matched like bandit's
own ``--baseline``: same file, test id, text, severity and confidence, each entry once.
"""

from __future__ import annotations

import fnmatch
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from harness.errors import ConfigError
from harness.suites.sast.bandit import CodeFinding
from harness.yaml_documents import read_yaml, validation_error


class AcceptedFinding(BaseModel):
    model_config = ConfigDict(extra="forbid")
    fingerprint: str = Field(min_length=8, max_length=64)
    reason: str = Field(min_length=3)
    rule: str | None = None
    file: str | None = None


class ExcludedPath(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: str = Field(min_length=1)
    reason: str = Field(min_length=3)


class _BaselineFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    accepted: list[AcceptedFinding] = Field(default_factory=list)
    excluded: list[ExcludedPath] = Field(default_factory=list)


BanditKey = tuple[str, str, str, str, str]  # file, test id, text, severity, confidence


@dataclass(frozen=True)
class Baseline:
    by_fingerprint: dict[str, str] = field(default_factory=dict)  # fingerprint -> reason
    bandit_entries: tuple[BanditKey, ...] = ()
    source: str = ""
    excluded: tuple[tuple[str, str], ...] = ()  # (glob, reason): may stay unanalysed

    def exclusion(self, relative: str) -> str | None:
        """The assessor's reason when ``relative`` (a skipped file or folder) may stay unanalysed."""
        for glob, reason in self.excluded:
            if fnmatch.fnmatch(relative, glob) or fnmatch.fnmatch(relative.rstrip("/"), glob):
                return reason
        return None

    def partition(self, findings: list[CodeFinding]
                  ) -> tuple[list[CodeFinding], list[tuple[CodeFinding, str]]]:
        """Split findings into (new, accepted-with-reason)."""
        remaining = Counter(self.bandit_entries)
        new: list[CodeFinding] = []
        accepted: list[tuple[CodeFinding, str]] = []
        for finding in findings:
            reason = self.by_fingerprint.get(finding.fingerprint)
            if reason is None:
                key = _bandit_match(finding, remaining)
                if key is not None:
                    remaining[key] -= 1
                    reason = f"in bandit baseline {self.source}"
            if reason is None:
                new.append(finding)
            else:
                accepted.append((finding, reason))
        return new, accepted


def _bandit_match(finding: CodeFinding, remaining: Counter[BanditKey]) -> BanditKey | None:
    for key, count in remaining.items():
        file, rule, text, severity, confidence = key
        if count <= 0 or (rule, text, severity, confidence) != (
                finding.rule, finding.message, finding.severity, finding.confidence):
            continue
        # bandit names files as it was invoked (./src/app/x.py); ours are relative to the root.
        if file == finding.relative or file.endswith("/" + finding.relative):
            return key
    return None


def load_baseline(path: Path | None, config_label: str = "run.yaml") -> Baseline:
    if path is None:
        return Baseline()
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as missing:
        raise ConfigError(config_label, "source.baseline", f"cannot read {path} "
                          f"({missing.strerror})", "give an existing baseline file or remove the field") from None
    if Path(path).suffix == ".json" or text.lstrip().startswith("{"):
        return _bandit_baseline(path, text, config_label)
    hint = ("each entry needs fingerprint (accepted) or path (excluded) and reason "
            "(see docs/tls-sast.md)")
    raw, node = read_yaml(Path(path), what="SAST baseline", hint=hint)
    try:
        parsed = _BaselineFile.model_validate(raw or {})
    except ValidationError as invalid:
        raise validation_error(Path(path), node, invalid, default_hint=hint) from None
    return Baseline({a.fingerprint: a.reason for a in parsed.accepted}, (), str(path),
                    tuple((e.path, e.reason) for e in parsed.excluded))


def _bandit_baseline(path: Path, text: str, config_label: str) -> Baseline:
    try:
        results = json.loads(text)["results"]
        entries = tuple((str(r["filename"]).removeprefix("./"), r["test_id"], r["issue_text"],
                         str(r["issue_severity"]).lower(), str(r["issue_confidence"]).lower())
                        for r in results)
    except (ValueError, KeyError, TypeError) as invalid:
        raise ConfigError(path, "results", f"not a bandit JSON report ({invalid})",
                          "create it with `bandit -r SRC -f json -o baseline.json`") from None
    return Baseline({}, entries, str(path))
