"""The requirements catalogue (specs/requirements.yaml): every rule a check enforces, with a stable
id, its text in Vietnamese and English, and where the rule is written (a spec file and line, or an
outside document). Checks name ids; reports, SARIF and ``popcert checks --coverage`` read them here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    model_validator,
)

from harness import resources
from harness.errors import ConfigError
from harness.yaml_documents import line_of, read_yaml, validation_error

REQUIREMENT_ID = r"^[A-Z][A-Z0-9]*(-[A-Z0-9]+)*$"
HINT = "see the header of specs/requirements.yaml"
# The user guide states some of the SUT's obligations too (e.g. docs/procedures.md).
DOCS_PREFIX = "docs/"
# Fixes by field name, for the one-line error a broken catalogue gives.
FIELD_HINTS = {
    "id": "upper-case words joined by '-', e.g. CONN-SEC-JWT or RFC7519-EXP",
    "vi": "write the rule in Vietnamese",
    "en": "write the rule in English",
    "document": "a repository path (specs/..., scenarios/...) or the outside document's name",
    "section": "the section, field or clause the rule is in",
    "line": "the 1-based line of the document where the rule is stated",
    "quote": "a short verbatim excerpt of that line",
    "url": "an https:// address of the outside document",
    "lines": "other 1-based lines of the same statement, e.g. [161, 162]",
    "attestation": "the id of a manual item of a profile (specs/profiles/*.yaml attestations)",
    "untestable": "say in a sentence why no check can decide this obligation",
    "responses": "documented responses as '<operationId> <status>', e.g. 'createDossier 413'",
    "provokes": "documented responses a check provokes on purpose, e.g. 'createDossier 413'",
}
# A documented response of an OpenAPI spec: "<operationId> <status>".
RESPONSE = r"^[A-Za-z][A-Za-z0-9]* [1-5][0-9]{2}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Text(_Strict):
    vi: str = Field(min_length=1)
    en: str = Field(min_length=1)


class Source(_Strict):
    """Where a rule is written: a file of this repository (line + quote) or an outside document."""

    document: str = Field(min_length=1)
    section: str = Field(min_length=1)
    line: int | None = Field(None, ge=1)
    quote: str | None = Field(None, min_length=1)
    url: str | None = Field(None, pattern=r"^https://\S+$")
    # Further lines of the same statement (a sentence wrapped over several lines of the spec).
    lines: tuple[int, ...] = ()

    @model_validator(mode="after")
    def _repository_or_outside(self) -> Source:
        if self.url is not None and (self.line is not None or self.quote is not None):
            raise ValueError("a repository document has line and quote, an outside one a url: "
                             "not both")
        if (self.line is None) != (self.quote is None):
            raise ValueError("a repository document needs both line and quote")
        if self.line is None and _looks_like_path(self.document):
            raise ValueError(f"{self.document!r} looks like a repository path: add line and quote")
        if self.lines and self.line is None:
            raise ValueError("lines (further lines of the statement) needs line and quote")
        if any(n < 1 for n in self.lines):
            raise ValueError("lines are 1-based line numbers")
        return self

    def cited_lines(self) -> tuple[int, ...]:
        """Every line of the document this statement covers (``line`` first)."""
        return (self.line, *self.lines) if self.line is not None else ()

    @property
    def in_repository(self) -> bool:
        return self.line is not None

    def reference(self) -> str:
        """One line for people: ``specs/npdb/v1/openapi.yaml:10 (info.description)``."""
        if self.in_repository:
            return f"{self.document}:{self.line} ({self.section})"
        return f"{self.document}, {self.section}" + (f" <{self.url}>" if self.url else "")


class Requirement(_Strict):
    """One obligation. It is enforced by the checks that name its id (``@check(requirements=
    [...])``), or else carries exactly one of ``attestation`` (a manual item of a profile) or
    ``untestable`` (why no check can decide it); ``harness.spec_coverage`` holds the three apart.
    """

    id: str = Field(pattern=REQUIREMENT_ID)
    text: Text
    source: Source
    attestation: str | None = Field(None, pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")
    untestable: str | None = Field(None, min_length=20)
    # Documented responses ("<operationId> <status>") of the source spec this obligation governs,
    # and those its checks provoke on purpose and assert exactly (docs/spec-coverage.md).
    responses: tuple[str, ...] = ()
    provokes: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _one_mapping(self) -> Requirement:
        if self.attestation is not None and self.untestable is not None:
            raise ValueError("an obligation is attested or untestable, not both: keep one")
        if self.provokes and (self.attestation is not None or self.untestable is not None):
            raise ValueError("only a check provokes a response: an attested or untestable "
                             "obligation lists it under responses")
        for pair in (*self.responses, *self.provokes):
            if not re.match(RESPONSE, pair):
                raise ValueError(f"{pair!r} is not '<operationId> <status>'")
        return self

    @property
    def manual(self) -> str | None:
        """How it is mapped when no check enforces it: ``attestation: ...``/``untestable: ...``."""
        if self.attestation is not None:
            return f"attestation: {self.attestation}"
        if self.untestable is not None:
            return f"untestable: {self.untestable}"
        return None


class Catalogue(_Strict):
    version: str = Field(min_length=1)
    requirements: list[Requirement] = Field(min_length=1)
    _by_id: dict[str, Requirement] = PrivateAttr(default_factory=dict)

    def model_post_init(self, context: Any, /) -> None:
        self._by_id.update((r.id, r) for r in self.requirements)

    def get(self, requirement_id: str) -> Requirement | None:
        return self._by_id.get(requirement_id)

    def ids(self) -> tuple[str, ...]:
        return tuple(r.id for r in self.requirements)

    def __contains__(self, requirement_id: object) -> bool:
        return requirement_id in self._by_id


def _looks_like_path(document: str) -> bool:
    return "/" in document and " " not in document and "://" not in document


def catalogue_path() -> Path:
    return resources.data_path("specs", "requirements.yaml")


def read_catalogue(path: Path | str) -> Catalogue:
    """The catalogue at ``path``; a ConfigError naming the file, the field (line) and the fix."""
    path = Path(path)
    raw, node = read_yaml(path, what="requirements catalogue", hint=HINT)
    try:
        catalogue = Catalogue.model_validate(raw)
    except ValidationError as invalid:
        loc = invalid.errors()[0]["loc"]
        field = ".".join(str(p) for p in loc)
        hint = FIELD_HINTS.get(str(loc[-1]), HINT) if loc else HINT
        raise validation_error(path, node, invalid, hints={field: hint}, default_hint=HINT) from None
    first: dict[str, int] = {}
    for index, requirement in enumerate(catalogue.requirements):
        if requirement.id in first:
            line = line_of(node, ("requirements", index, "id"))
            where = f"requirements.{index}.id" + (f" (line {line})" if line else "")
            raise ConfigError(path, where,
                              f"{requirement.id!r} is already the id of "
                              f"requirements.{first[requirement.id]}",
                              "give each rule its own id; never reuse one")
        first[requirement.id] = index
    return catalogue


@lru_cache(maxsize=1)
def load_catalogue() -> Catalogue:
    """The shipped catalogue, read once per process."""
    return read_catalogue(catalogue_path())


def source_problems(catalogue: Catalogue, root: Path | None = None) -> list[str]:
    """Repository sources whose file, line or quote does not hold (a spec line moved)."""
    root = root or resources.data_root()
    problems = []
    for requirement in catalogue.requirements:
        source = requirement.source
        if not source.in_repository:
            continue
        assert source.line is not None and source.quote is not None
        where = f"{requirement.id}: {source.document}:{source.line}"
        if source.document.startswith(DOCS_PREFIX) and resources.installed():
            continue  # docs/ is not in the wheel; the checkout's tests hold these lines
        try:
            lines = (root / source.document).read_text(encoding="utf-8").splitlines()
        except OSError:
            problems.append(f"{where}: no such file")
            continue
        if max(source.cited_lines()) > len(lines):
            problems.append(f"{where}: the file has {len(lines)} lines")
        elif source.quote not in lines[source.line - 1]:
            found = [n for n, text in enumerate(lines, start=1) if source.quote in text]
            moved = f" (the quote is on line {found[0]})" if found else " (the quote is gone)"
            problems.append(f"{where}: the line does not contain {source.quote!r}{moved}")
    return problems


def requirement_ids(check: Any) -> tuple[str, ...]:
    """The ids a check names; () for a check still declared with prose only."""
    return tuple(getattr(check, "requirements", ()) or ())


def validate_check_requirements(checks: Iterable[Any],
                                catalogue: Catalogue | None = None) -> list[str]:
    """Checks that name no requirement id, or an id the catalogue does not hold."""
    catalogue = catalogue or load_catalogue()
    problems = []
    for check in checks:
        ids = requirement_ids(check)
        if not ids:
            problems.append(f"{check.id}: names no requirement id (requirements=[...] in @check)")
        problems.extend(f"{check.id}: unknown requirement id {rid!r} (not in "
                        f"specs/requirements.yaml)" for rid in ids if rid not in catalogue)
    return problems


@dataclass(frozen=True)
class CoverageRow:
    requirement_id: str
    check_ids: tuple[str, ...]  # empty: no check enforces this requirement
    text_en: str
    text_vi: str
    source: str

    @property
    def covered(self) -> bool:
        return bool(self.check_ids)


def coverage(checks: Iterable[Any], catalogue: Catalogue | None = None) -> list[CoverageRow]:
    """One row per catalogue requirement, in catalogue order, with the checks that enforce it."""
    catalogue = catalogue or load_catalogue()
    enforced: dict[str, list[str]] = {}
    for check in checks:
        for rid in requirement_ids(check):
            enforced.setdefault(rid, []).append(check.id)
    return [CoverageRow(r.id, tuple(sorted(enforced.get(r.id, ()))), r.text.en, r.text.vi,
                        r.source.reference())
            for r in catalogue.requirements]


def format_coverage(rows: list[CoverageRow]) -> str:
    """Plain text for ``popcert checks --coverage``: covered rows, then what no check covers."""
    width = max((len(r.requirement_id) for r in rows), default=0)
    lines = [f"{r.requirement_id:<{width}}  {', '.join(r.check_ids)}" for r in rows if r.covered]
    uncovered = [r for r in rows if not r.covered]
    if uncovered:
        lines.append(f"not covered by any check ({len(uncovered)}):")
        lines.extend(f"  {r.requirement_id:<{width}}  {r.source}" for r in uncovered)
    lines.append(f"{len(rows) - len(uncovered)}/{len(rows)} requirements covered")
    return "\n".join(lines)
