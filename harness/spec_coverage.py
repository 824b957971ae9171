"""`popcert checks --spec-coverage`: how much of each spec the catalogue (specs/requirements.yaml)
maps, and how much of it the registered checks enforce.

Two things are read from the specs themselves, so a rule added to a spec without a mapping shows:
- every documented response of an OpenAPI spec, an ``(operationId, status)`` pair;
- every parameter, documented header (request or response), format and security requirement of
  an OpenAPI spec (a "structured item", with the lines of its YAML block), and, for the spec the
  SUT serves, each path's undocumented methods (mapped by an entry citing the path's line);
- every line of a spec that carries an obligation word (must, never, only, at most, is refused,
  is reported as, is acknowledged, requires, ...).

A pair is *mapped* when some requirement lists it under ``responses`` or ``provokes``; it is
*exercised* when a requirement that a registered check names lists it under ``provokes`` (the
check provokes that status on purpose and asserts it exactly). A line is mapped when some
requirement cites it (``source.line`` or ``source.lines``) or the small allow-list below says,
with a reason, that its obligation word states no obligation; a structured item when a
requirement cites one of its lines (or its allow-list says why it binds the SUT to nothing). A requirement is *enforced* when a
check names it, else it must carry ``attestation`` or ``untestable``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import resources
from harness.requirements import Catalogue, Requirement, load_catalogue, requirement_ids

CONNECTION = "specs/connection/v1/openapi.yaml"
NPDB = "specs/npdb/v1/openapi.yaml"
PURPOSES = "specs/npdb/v1/purposes.yaml"
FIREWALL = "specs/firewall/baseline.yaml"
# The specs scanned line by line, in the order the report shows them.
SPEC_DOCUMENTS = (CONNECTION, NPDB, PURPOSES, FIREWALL)
OPENAPI_DOCUMENTS = (CONNECTION, NPDB)
SUT_SPECS = (CONNECTION,)  # the API the SUT serves (the NPDB spec is the API it calls)
PROFILES = ("district", "province", "ministry")

OBLIGATION_WORDS = re.compile(
    r"\b(must|never|only|at most|no more than|refused|reported as|acknowledged|requires?|"
    r"required (with|by)|shall|always|exactly|not allowed)\b", re.IGNORECASE)
# YAML structure, not prose: `required: true`, `required: [a, b]`.
_STRUCTURE = re.compile(r"^\s*required:\s")
# An operation's own operationId (indent 6: paths > path > method); a link's (deeper) names
# another operation and is no new section.
_OPERATION = re.compile(r"^ {6}operationId:\s*([A-Za-z0-9_]+)\s*$")
_RESPONSE = re.compile(r"""^\s+['"]?([1-5][0-9]{2})['"]?:""")
_SECTION_END = re.compile(r"^components:\s*$")

# Lines with an obligation word that state no obligation of the SUT (kept small; each says why).
NOT_OBLIGATIONS: dict[tuple[str, int], str] = {
    (NPDB, 105): "response description of what the NPDB returns (its own minimisation)",
    (NPDB, 126): "response description of what the NPDB returns (its own minimisation)",
    (NPDB, 410): "the mock's own scope safety (loopback callbacks), a harness property",
    (FIREWALL, 2): "how the baseline file is maintained (bump its version), no rule of a host",
    (FIREWALL, 3): "which checks send traffic (the harness's scope safety), no rule of a host",
    (FIREWALL, 4): "where the live scan sends traffic (the harness's scope safety)",
    (FIREWALL, 58): "defines the loopback interfaces, whose traffic never leaves the host",
}
# Structured items (by their first line) that put no obligation on the SUT.
NOT_OBLIGATION_ITEMS: dict[tuple[str, int], str] = {
    (NPDB, 273): "the NPDB's own 401 challenge header: nothing the SUT must send or read",
    (NPDB, 342): "format of a date the NPDB answers (date_of_birth): the NPDB's promise",
    (NPDB, 360): "format of a date the NPDB answers (date_of_death): the NPDB's promise",
}


@dataclass(frozen=True)
class DocumentedResponse:
    operation: str
    status: int
    line: int

    @property
    def pair(self) -> str:
        return f"{self.operation} {self.status}"


@dataclass(frozen=True)
class ObligationLine:
    line: int
    text: str


@dataclass(frozen=True)
class SpecItem:
    """A structured obligation of an OpenAPI spec: a parameter, a documented header, a format or
    a security requirement, with the lines of its YAML block (any cited line maps it)."""

    kind: str  # parameter | header | format | security | method
    label: str
    lines: tuple[int, ...]

    @property
    def line(self) -> int:
        return self.lines[0]


def _read_lines(document: str, root: Path | None) -> list[str]:
    return ((root or resources.data_root()) / document).read_text(encoding="utf-8").splitlines()


def documented_responses(document: str, root: Path | None = None) -> list[DocumentedResponse]:
    """Every ``(operationId, status)`` an OpenAPI spec documents, with the status's line.

    Read from the text (not the parsed document) so each pair keeps its line: a status key under
    an operation, before the next operation or ``components:``."""
    found: list[DocumentedResponse] = []
    operation: str | None = None
    for number, text in enumerate(_read_lines(document, root), start=1):
        if _SECTION_END.match(text):
            break
        if (named := _OPERATION.match(text)) is not None:
            operation = named.group(1)
        elif operation is not None and (status := _RESPONSE.match(text)) is not None:
            found.append(DocumentedResponse(operation, int(status.group(1)), number))
    return found


def _indent(text: str) -> int:
    return len(text) - len(text.lstrip(" -")) if text.lstrip().startswith("- ") else \
        len(text) - len(text.lstrip(" "))


def _block(lines: list[str], index: int) -> tuple[int, ...]:
    """1-based lines of the YAML node starting at ``lines[index]``: it and every deeper line."""
    start = len(lines[index]) - len(lines[index].lstrip(" "))
    end = index + 1
    while end < len(lines) and (not lines[end].strip()
                                or len(lines[end]) - len(lines[end].lstrip(" ")) > start):
        end += 1
    return tuple(range(index + 1, end + 1))


_KEY = re.compile(r"^\s*(?:- )?([A-Za-z][A-Za-z0-9_-]*):")
_FORMAT = re.compile(r"\bformat:\s*([a-z0-9-]+)")
_IN = re.compile(r"^\s*in:\s*(query|header|path|cookie)\s*$")


def spec_items(document: str, root: Path | None = None) -> list[SpecItem]:
    """Every parameter, documented header (request and response), format and security
    requirement of an OpenAPI spec, read from its text so each keeps its lines."""
    lines = _read_lines(document, root)
    items: list[SpecItem] = []
    for index, text in enumerate(lines):
        stripped = text.strip()
        if (where := _IN.match(text)) is not None:
            name_index = next(i for i in range(index - 1, -1, -1) if "name:" in lines[i])
            name = lines[name_index].split("name:", 1)[1].strip()
            node = name_index
            if not lines[name_index].lstrip().startswith("- "):  # components.parameters.<Key>:
                depth = len(lines[name_index]) - len(lines[name_index].lstrip(" "))
                node = next(i for i in range(name_index - 1, -1, -1)
                            if len(lines[i]) - len(lines[i].lstrip(" ")) < depth)
            items.append(SpecItem("parameter", f"{name} ({where.group(1)})", _block(lines, node)))
        elif stripped == "headers:":
            depth = len(text) - len(text.lstrip(" "))
            for child in _block(lines, index)[1:]:
                line = lines[child - 1]
                if len(line) - len(line.lstrip(" ")) == depth + 2 and (key := _KEY.match(line)):
                    items.append(SpecItem("header", key.group(1), _block(lines, child - 1)))
        elif (fmt := _FORMAT.search(text)) is not None:
            key = _KEY.match(text)
            if key is not None and key.group(1) == "format":  # `format: uri` on its own line
                depth = len(text) - len(text.lstrip(" "))
                parent = next(lines[i] for i in range(index - 1, -1, -1)
                              if len(lines[i]) - len(lines[i].lstrip(" ")) < depth)
                key = _KEY.match(parent)
            owner = key.group(1) if key and key.group(1) != "schema" else "value"
            items.append(SpecItem("format", f"{owner}: {fmt.group(1)}", (index + 1,)))
        elif stripped.startswith("security:"):
            if stripped == "security: []":
                items.append(SpecItem("security", "none (security: [])", (index + 1,)))
                continue
            depth = len(text) - len(text.lstrip(" "))
            for child in _block(lines, index)[1:]:
                line = lines[child - 1]
                if line.lstrip().startswith("- ") and len(line) - len(line.lstrip(" ")) <= depth + 2:
                    requirement = " + ".join(
                        lines[n - 1].strip(" -") for n in _block(lines, child - 1))
                    items.append(SpecItem("security", requirement, _block(lines, child - 1)))
    return items


_PATH = re.compile(r"^  (/[^:]*):\s*$")
_METHOD = re.compile(r"^    (get|put|post|delete|patch|head|options|trace):\s*$")
# Methods a path that does not document them must refuse (405, or 401/403/404; never 2xx).
# HEAD and OPTIONS are left out: HTTP lets a server answer them for any resource it serves.
PROBED_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def undocumented_methods(document: str, root: Path | None = None) -> list[SpecItem]:
    """Per path of a spec the SUT serves, the methods it does not document (one item per path,
    on the path's line)."""
    lines = _read_lines(document, root)
    found: list[SpecItem] = []
    path: tuple[str, int] | None = None
    documented: set[str] = set()

    def close() -> None:
        if path is not None:
            missing = [m for m in PROBED_METHODS if m not in documented]
            if missing:
                found.append(SpecItem("method", f"{', '.join(missing)} {path[0]} (undocumented)",
                                      (path[1],)))

    for number, text in enumerate(lines, start=1):
        if _SECTION_END.match(text):
            break
        if (named := _PATH.match(text)) is not None:
            close()
            path, documented = (named.group(1), number), set()
        elif (method := _METHOD.match(text)) is not None:
            documented.add(method.group(1).upper())
    close()
    return found


def obligation_lines(document: str, root: Path | None = None) -> list[ObligationLine]:
    """The lines of ``document`` carrying an obligation word (YAML structure left out)."""
    return [ObligationLine(number, text.strip())
            for number, text in enumerate(_read_lines(document, root), start=1)
            if OBLIGATION_WORDS.search(text) and not _STRUCTURE.match(text)]


def attestation_items() -> set[str]:
    """The manual items the shipped profiles ask an assessor to attest."""
    from harness.profiles import load_profile

    return {item.id for name in PROFILES for item in load_profile(name).attestations}


@dataclass
class DocumentCoverage:
    document: str
    responses: list[DocumentedResponse] = field(default_factory=list)
    exercised: set[str] = field(default_factory=set)
    enforced: list[Requirement] = field(default_factory=list)
    attested: list[Requirement] = field(default_factory=list)
    untestable: list[Requirement] = field(default_factory=list)
    unmapped_requirements: list[Requirement] = field(default_factory=list)
    unmapped_responses: list[DocumentedResponse] = field(default_factory=list)
    unmapped_lines: list[ObligationLine] = field(default_factory=list)
    items: list[SpecItem] = field(default_factory=list)
    unmapped_items: list[SpecItem] = field(default_factory=list)

    @property
    def obligations(self) -> int:
        return (len(self.enforced) + len(self.attested) + len(self.untestable)
                + len(self.unmapped_requirements))

    @property
    def unmapped(self) -> int:
        return (len(self.unmapped_requirements) + len(self.unmapped_responses)
                + len(self.unmapped_lines) + len(self.unmapped_items))


@dataclass
class SpecCoverage:
    documents: list[DocumentCoverage]
    problems: list[str]  # mapping errors: a check on an attested id, an unknown item or pair

    @property
    def obligations(self) -> int:
        return sum(d.obligations for d in self.documents)

    @property
    def unmapped(self) -> int:
        return sum(d.unmapped for d in self.documents) + len(self.problems)


def spec_coverage(checks: Iterable[Any], catalogue: Catalogue | None = None,
                  root: Path | None = None) -> SpecCoverage:
    """Every repository document the catalogue cites (the specs first), mapped as above."""
    catalogue = catalogue or load_catalogue()
    enforcing: dict[str, list[str]] = {}
    for check in checks:
        for rid in requirement_ids(check):
            enforcing.setdefault(rid, []).append(check.id)
    sources = {r.source.document for r in catalogue.requirements if r.source.in_repository}
    order = [*SPEC_DOCUMENTS, *sorted(sources - set(SPEC_DOCUMENTS))]
    items = attestation_items()
    problems: list[str] = []
    documents = []
    for document in order:
        cover = DocumentCoverage(document)
        own = [r for r in catalogue.requirements if r.source.document == document]
        pairs_of = {pair for r in own for pair in (*r.responses, *r.provokes)}
        for requirement in own:
            checks_named = enforcing.get(requirement.id)
            if checks_named and requirement.manual is not None:
                problems.append(f"{requirement.id}: enforced by {', '.join(checks_named)} and "
                                f"also {requirement.manual.split(':')[0]}: keep one mapping")
            if requirement.attestation is not None and requirement.attestation not in items:
                problems.append(f"{requirement.id}: attestation {requirement.attestation!r} is "
                                f"no manual item of the profiles ({', '.join(sorted(items))})")
            if checks_named:
                cover.enforced.append(requirement)
                cover.exercised.update(requirement.provokes)
            elif requirement.attestation is not None:
                cover.attested.append(requirement)
            elif requirement.untestable is not None:
                cover.untestable.append(requirement)
            else:
                cover.unmapped_requirements.append(requirement)
            if requirement.provokes and not checks_named:
                problems.append(f"{requirement.id}: provokes {list(requirement.provokes)} but no "
                                "check names it")
        cited = {n for r in own for n in r.source.cited_lines()}
        if document in OPENAPI_DOCUMENTS:
            cover.items = spec_items(document, root)
            if document in SUT_SPECS:
                cover.items += undocumented_methods(document, root)
            cover.unmapped_items = [i for i in cover.items if not cited & set(i.lines)
                                    and (document, i.line) not in NOT_OBLIGATION_ITEMS]
            cover.responses = documented_responses(document, root)
            documented = {r.pair for r in cover.responses}
            problems.extend(f"{document}: {pair!r} is no documented response of the spec"
                            for pair in sorted(pairs_of - documented))
            cover.unmapped_responses = [r for r in cover.responses if r.pair not in pairs_of]
        elif pairs_of:
            problems.append(f"{document}: responses are only listed for OpenAPI specs")
        if document in SPEC_DOCUMENTS:
            cover.unmapped_lines = [o for o in obligation_lines(document, root)
                                    if o.line not in cited
                                    and (document, o.line) not in NOT_OBLIGATIONS]
        documents.append(cover)
    return SpecCoverage(documents, problems)


def format_spec_coverage(report: SpecCoverage) -> str:
    """Plain text, one block per document; the last line ends ``unmapped <n>``."""
    out: list[str] = []
    for d in report.documents:
        out.append(d.document)
        if d.responses:
            out.append(f"  documented responses exercised {len(d.exercised)}/{len(d.responses)}"
                       f" (mapped {len(d.responses) - len(d.unmapped_responses)}/"
                       f"{len(d.responses)})")
        if d.items:
            kinds = ", ".join(f"{sum(i.kind == k for i in d.items)} {k}"
                              for k in ("parameter", "header", "format", "security", "method")
                              if any(i.kind == k for i in d.items))
            out.append(f"  structured items mapped {len(d.items) - len(d.unmapped_items)}/"
                       f"{len(d.items)} ({kinds})")
        out.append(f"  obligations enforced {len(d.enforced)}/{d.obligations}, attested "
                   f"{len(d.attested)}, untestable {len(d.untestable)}")
        out.extend(f"    attested   {r.id}: {r.attestation}" for r in d.attested)
        out.extend(f"    untestable {r.id}: {r.untestable}" for r in d.untestable)
        out.extend(f"    UNMAPPED requirement {r.id}: no check, attestation or reason"
                   for r in d.unmapped_requirements)
        out.extend(f"    UNMAPPED response {r.pair} (line {r.line})" for r in d.unmapped_responses)
        out.extend(f"    UNMAPPED line {o.line}: {o.text[:90]}" for o in d.unmapped_lines)
        out.extend(f"    UNMAPPED {i.kind} {i.label} (line {i.line})" for i in d.unmapped_items)
    out.extend(f"PROBLEM {problem}" for problem in report.problems)
    enforced = sum(len(d.enforced) for d in report.documents)
    attested = sum(len(d.attested) for d in report.documents)
    untestable = sum(len(d.untestable) for d in report.documents)
    out.append(f"{report.obligations} obligations in {len(report.documents)} documents: enforced "
               f"{enforced}, attested {attested}, untestable {untestable}, "
               f"unmapped {report.unmapped}")
    return "\n".join(out)
