"""The requirements catalogue (specs/requirements.yaml): it loads, its ids are unique, every spec
line it cites holds the rule's quote, a broken catalogue is a one-line ConfigError, and every id
the checks name is in it."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from harness import resources
from harness.errors import ConfigError
from harness.registry import default_registry
from harness.requirements import (
    REQUIREMENT_ID,
    Catalogue,
    catalogue_path,
    coverage,
    format_coverage,
    load_catalogue,
    read_catalogue,
    source_problems,
    validate_check_requirements,
)

# The check -> requirement ids mapping the suites adopt (issue 15); outside the repository.


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


def test_the_catalogue_loads_with_unique_ids(catalogue: Catalogue) -> None:
    ids = catalogue.ids()
    assert len(ids) >= 40
    assert len(ids) == len(set(ids))
    assert all(re.match(REQUIREMENT_ID, i) for i in ids)
    assert catalogue.get("CONN-SEC-JWT") is not None and "CONN-SEC-JWT" in catalogue
    assert catalogue.get("NO-SUCH-RULE") is None
    assert load_catalogue() is catalogue  # cached: read once per process


def test_every_rule_has_both_languages(catalogue: Catalogue) -> None:
    for requirement in catalogue.requirements:
        assert requirement.text.vi != requirement.text.en, requirement.id
        # Vietnamese is written with its diacritics, not as ASCII.
        assert any(ord(c) > 127 for c in requirement.text.vi), requirement.id


def test_every_cited_spec_line_holds_the_rule(catalogue: Catalogue) -> None:
    """Each repository source's quote is on its line: a spec edit that moves a rule fails here."""
    assert source_problems(catalogue) == []
    in_repo = [r for r in catalogue.requirements if r.source.in_repository]
    assert len(in_repo) >= 30
    for requirement in in_repo:
        # Only shipped folders: the installed wheel must be able to show the line too.
        # docs/ is the checkout's user guide (not in the wheel; source_problems skips it there).
        folder = requirement.source.document.split("/")[0]
        assert folder in {"specs", "scenarios", "docs"}, requirement.id
        root = resources.SOURCE_ROOT if folder == "docs" else resources.data_root()
        assert (root / requirement.source.document).is_file(), requirement.id


def test_a_moved_spec_line_is_reported_with_where_the_quote_went(tmp_path: Path,
                                                                 catalogue: Catalogue) -> None:
    requirement = catalogue.get("CONN-BODY-LIMIT")
    assert requirement is not None and requirement.source.line is not None
    spec = tmp_path / requirement.source.document
    spec.parent.mkdir(parents=True)
    shutil.copy(resources.data_root() / requirement.source.document, spec)
    lines = spec.read_text(encoding="utf-8").splitlines()
    lines.insert(0, "# a new first line")
    spec.write_text("\n".join(lines) + "\n", encoding="utf-8")
    moved = Catalogue(version="t", requirements=[requirement])
    assert source_problems(moved, root=tmp_path) == [
        (f"CONN-BODY-LIMIT: {requirement.source.document}:{requirement.source.line}: the line does "
        f"not contain {requirement.source.quote!r} (the quote is on line "
        f"{requirement.source.line + 1})")]
    spec.unlink()
    assert "no such file" in source_problems(moved, root=tmp_path)[0]


def test_outside_documents_name_a_section(catalogue: Catalogue) -> None:
    outside = [r for r in catalogue.requirements if not r.source.in_repository]
    assert {"RFC7519-EXP", "OWASP-API1-2023", "MOZILLA-TLS-INTERMEDIATE"} <= {r.id for r in outside}
    exp = catalogue.get("RFC7519-EXP")
    assert exp is not None and exp.source.url is not None and "§4.1.4" in exp.source.section
    assert exp.source.reference().startswith("RFC 7519")


ENTRY = """\
version: "1"
requirements:
  - id: CONN-BODY-LIMIT
    text: {vi: "Nội dung lớn hơn 64 KiB bị từ chối.", en: Bodies over 64 KiB are refused.}
    source: {document: specs/connection/v1/openapi.yaml, section: info, line: 17, quote: "64 KiB"}
"""


@pytest.mark.parametrize(("broken", "field", "words"), [
    (ENTRY.replace(", en: Bodies over 64 KiB are refused.", ""),
     "requirements.0.text.en (line 4)", "is required"),
    (ENTRY.replace("id: CONN-BODY-LIMIT", "id: conn body limit"),
     "requirements.0.id (line 3)", "upper-case words"),
    (ENTRY.replace(", quote: \"64 KiB\"", ""),
     "requirements.0.source (line 5)", "needs both line and quote"),
    (ENTRY.replace("line: 17", "line: 0"), "requirements.0.source.line (line 5)", "1-based line"),
    (ENTRY + ENTRY.split("requirements:\n")[1], "requirements.1.id (line 6)",
     "'CONN-BODY-LIMIT' is already the id of requirements.0"),
    (ENTRY.replace("requirements:\n", "requirements:\n  - [\n"), "line 4", "not valid YAML"),
])
def test_a_broken_catalogue_names_file_field_and_fix(tmp_path: Path, broken: str, field: str,
                                                     words: str) -> None:
    path = tmp_path / "requirements.yaml"
    path.write_text(broken, encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        read_catalogue(path)
    error = raised.value
    assert error.path == str(path)
    assert error.field == field
    assert words in error.one_line()
    assert error.hint


def test_the_entry_used_above_is_itself_valid(tmp_path: Path) -> None:
    path = tmp_path / "requirements.yaml"
    path.write_text(ENTRY, encoding="utf-8")
    assert read_catalogue(path).ids() == ("CONN-BODY-LIMIT",)
    assert read_catalogue(catalogue_path()).ids() == load_catalogue().ids()


def _check(check_id: str, *ids: str) -> SimpleNamespace:
    return SimpleNamespace(id=check_id, requirements=ids)


def test_checks_without_ids_or_with_unknown_ids_are_problems(catalogue: Catalogue) -> None:
    prose_only = SimpleNamespace(id="OLD-CHECK", requirement="free prose")  # no requirements
    problems = validate_check_requirements(
        [_check("AUTH-JWT-EXPIRED", "CONN-SEC-JWT", "RFC7519-EXP"),
         _check("AUTH-X", "CONN-SEC-JWT", "RFC9999-NOPE"), _check("AUTH-Y"), prose_only],
        catalogue)
    assert problems == [
        "AUTH-X: unknown requirement id 'RFC9999-NOPE' (not in specs/requirements.yaml)",
        "AUTH-Y: names no requirement id (requirements=[...] in @check)",
        "OLD-CHECK: names no requirement id (requirements=[...] in @check)"]


def test_coverage_lists_the_checks_per_rule_and_the_rules_no_check_covers(
        catalogue: Catalogue) -> None:
    rows = coverage([_check("AUTH-JWT-EXPIRED", "CONN-SEC-JWT", "RFC7519-EXP"),
                     _check("AUTH-TOKEN-MISSING", "CONN-SEC-JWT")], catalogue)
    assert [r.requirement_id for r in rows] == list(catalogue.ids())
    by_id = {r.requirement_id: r for r in rows}
    assert by_id["CONN-SEC-JWT"].check_ids == ("AUTH-JWT-EXPIRED", "AUTH-TOKEN-MISSING")
    assert by_id["RFC7519-EXP"].check_ids == ("AUTH-JWT-EXPIRED",)
    assert not by_id["RFC7519-NBF"].covered
    assert by_id["CONN-SEC-JWT"].source == "specs/connection/v1/openapi.yaml:11 (info.description)"
    text = format_coverage(rows)
    assert "CONN-SEC-JWT" in text.splitlines()[0]
    assert f"not covered by any check ({len(rows) - 2}):" in text
    assert text.endswith(f"2/{len(rows)} requirements covered")


def test_every_registered_check_names_known_requirements(catalogue: Catalogue) -> None:
    checks = list(default_registry())
    assert validate_check_requirements(checks, catalogue) == []
    # Every rule in the catalogue is enforced by some check, or says it is attested or
    # untestable (harness/spec_coverage.py).
    dead = [r.requirement_id for r in coverage(checks, catalogue) if not r.covered
            and (entry := catalogue.get(r.requirement_id)) is not None and entry.manual is None]
    assert dead == []
    # The requirement text a check carries is the catalogue's, not prose of its own.
    for check in checks:
        texts = [entry.text.en for i in check.requirements if (entry := catalogue.get(i))]
        assert check.requirement == "; ".join(texts), check.id
