"""Every registered check has its Vietnamese title, requirement and failure text."""

from harness.registry import default_registry
from harness.report.catalogue import (
    CATALOGUE_VI,
    FIELDS,
    catalogue_vi,
    missing_entries,
    sentence_problem,
)


def test_every_registered_check_has_a_vietnamese_entry() -> None:
    missing = missing_entries(default_registry().ids())
    assert not missing, (
        f"{len(missing)} registered check(s) have no complete Vietnamese entry in "
        f"{CATALOGUE_VI.relative_to(CATALOGUE_VI.parents[2])}: "
        + "; ".join(f"{check_id} (missing {', '.join(fields)})"
                    for check_id, fields in missing.items())
        + f". Add for each id the keys {', '.join(FIELDS)} (see the file's header).")


def test_a_check_without_an_entry_is_named_as_missing() -> None:
    missing = missing_entries(["AUTH-JWT-ALG-NONE", "NEW-CHECK-NOBODY-TRANSLATED"])
    assert missing == {"NEW-CHECK-NOBODY-TRANSLATED": list(FIELDS)}


def test_entries_are_vietnamese_text_not_copies_of_the_english() -> None:
    for check_id, entry in catalogue_vi().items():
        check = default_registry().get(check_id)
        if check is not None:
            assert entry["title"] != check.title, check_id


def test_every_title_is_one_whole_sentence_in_both_languages() -> None:
    """Titles appear alone in report.json, HTML, SARIF, JUnit and `popcert checks`: a title cut
    where its docstring wrapped ("…refused with 413, on every") is wrong everywhere."""
    catalogue = catalogue_vi()
    problems = []
    for check in default_registry():
        for language, title in (("en", check.title),
                                ("vi", catalogue.get(check.id, {}).get("title", "."))):
            problem = sentence_problem(title)
            if problem:
                problems.append(f"{check.id} ({language}) {title!r}: {problem}")
    assert not problems, (
        "check titles must be whole sentences (pass @check(title=...) or make the docstring's "
        "first paragraph the sentence; the Vietnamese one is in harness/report/catalogue_vi.yaml):"
        "\n" + "\n".join(problems))


def test_the_sentence_rule_rejects_the_cut_titles_issue_21_found() -> None:
    cut = ["A valid request padded just over the documented body limit is refused with 413, on every",
           "Another portal tenant's dossier list (unfiltered and with each filter) never shows the",
           "A submission repeated with the same Idempotency-Key and body returns the same dossier (no",
           "", "lower-case start.", "Two\nlines."]
    assert all(sentence_problem(title) for title in cut)
    assert sentence_problem("Expired tokens are refused (RFC 7519 §4.1.4).") is None
    assert sentence_problem("95th percentile response time is within the limit.") is None


def test_a_docstring_title_is_its_whole_first_paragraph() -> None:
    from harness.checks import Severity, check, check_of

    @check("AUTH-EXAMPLE-WRAPPED", severity=Severity.LOW, requirement="an example")
    def wrapped(ctx: object) -> None:
        """A title long enough that its docstring wraps onto a
        second line is kept whole.

        Details that are not part of the title.
        """

    title = check_of(wrapped).title  # type: ignore[arg-type]
    assert title == "A title long enough that its docstring wraps onto a second line is kept whole."
