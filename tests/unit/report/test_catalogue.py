"""Every registered check has its Vietnamese title, requirement and failure text."""

from harness.registry import default_registry
from harness.report.catalogue import CATALOGUE_VI, FIELDS, catalogue_vi, missing_entries


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
