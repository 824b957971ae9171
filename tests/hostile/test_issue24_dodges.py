"""Issue 24, items 3 and 4, against the hostile cases bench/hostile.py runs: a published OpenAPI
document that describes nothing or is malformed fails CONF-SPEC-DRIFT (fetched over HTTP the way
the conformance suite fetches it), and a source tree that switches TLS verification off in every
way of the corpus fails SAST-TLS-VERIFY with a finding in every file. The full `certify --quick`
runs are the bench's (`bench/hostile.py --cases openapi-hollow,...`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.checks import Status
from tests.hostile import servers as hostile
from tests.hostile.tls_verify_corpus import DISABLING


def _run_context(tmp_path: Path, base_url: str):  # type: ignore[no-untyped-def]
    from harness.config import config_from_dict
    from harness.net import ScopeGuard
    from harness.profiles import Profile
    from harness.run_context import RunContext

    config = config_from_dict({
        "system": {"name": "hostile", "organisation": "test", "level": "district"},
        "target": {"base_url": base_url}}, tmp_path)
    profile = Profile(name="t", version="1", title_vi="t", title_en="t", mandatory=["CONF-*"])
    return RunContext(config, profile, tmp_path, ScopeGuard(["127.0.0.1"]), tmp_path)


@pytest.mark.parametrize(("case", "named"), [
    ("openapi-hollow", "breaking change(s)"),
    ("openapi-hollow-templated", "not a valid OpenAPI document"),
    ("openapi-malformed", "not a valid OpenAPI document"),
])
def test_a_hollow_or_malformed_published_spec_fails(case: str, named: str,
                                                    tmp_path: Path) -> None:
    from harness.suites.conformance import checks
    from harness.suites.conformance.context import fetch_published_spec
    from harness.suites.conformance.spec import load_spec
    from tests.unit.test_conformance_latency import context

    with hostile.CATALOGUE[case]() as sut:
        published = fetch_published_spec(_run_context(tmp_path, sut.url), load_spec(), "token")
        assert sut.hits >= 1
        expected = sut.expect["CONF-SPEC-DRIFT"]
    result = checks.spec_drift(context(published=published))
    assert str(result.status) == expected == "fail", result.summary
    assert named in result.summary
    if case == "openapi-malformed":
        assert "(at /" in result.summary  # the validator's error and where it is


def test_a_source_tree_of_every_disabling_form_fails_in_every_file() -> None:
    from harness.registry import default_registry
    from harness.suites.sast import context as sast

    with hostile.CATALOGUE["tls-verify-dodges"]() as sut:
        assert sut.source_path is not None
        check = default_registry()["SAST-TLS-VERIFY"]
        result = check.function(sast.source_context(sut.source_path))
        expected = sut.expect["SAST-TLS-VERIFY"]
    assert result.status == Status.FAIL and str(result.status) == expected
    located = {e.data["location"] for e in result.evidence if e.kind == "finding"}
    assert located == {name.replace("-", "_") + ".py" for name in DISABLING}
