"""SAST-TLS-VERIFY's rule is an allow-list (issue 24, item 3): every form of the disabling corpus is
a failing finding, no compliant form is, the reference system's source has none, hostile source
cannot make the rule loop or allocate, and a few forms really skip verification on a loopback
HTTPS server whose CA the client does not trust (so the rule is not about style)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.suites.sast.tls_rule import scan_source
from tests.hostile.tls_verify_corpus import COMPLIANT, DISABLING

ROOT = Path(__file__).resolve().parents[2]


def _failing(code: str) -> list[tuple[int, str, str]]:
    return [(f.line, f.rule, f.message) for f in scan_source(code) if f.severity == "high"]


def test_the_corpora_cover_the_issue() -> None:
    assert len(DISABLING) >= 19 and len(COMPLIANT) >= 10
    named = ["verify-empty-string", "verify-empty-list", "verify-not-true", "verify-bool-0",
             "name-bound-to-false", "setattr-verify", "partial-built-keyword",
             "poolmanager-cert-reqs-0", "verify-mode-enum-0", "curl-ca-bundle-empty"]
    assert set(named) <= set(DISABLING)


@pytest.mark.parametrize("name", sorted(DISABLING))
def test_every_disabling_form_is_a_finding(name: str) -> None:
    code, rule = DISABLING[name]
    findings = _failing(code)
    assert rule in {r for _, r, _ in findings}, findings
    # the finding points at a line of the snippet and says what was written
    assert all(1 <= line <= code.count("\n") + 1 for line, _, _ in findings)


@pytest.mark.parametrize("name", sorted(COMPLIANT))
def test_no_compliant_form_is_a_finding(name: str) -> None:
    assert _failing(COMPLIANT[name]) == []


def test_unproven_values_say_how_to_accept_them() -> None:
    [(_, rule, message)] = _failing("def fetch(url, check):\n    return requests.get(url, "
                                    "verify=check)")
    assert rule == "tls-verify-unproven"
    assert "verify=check" in message and "baseline" in message


def test_silencing_warnings_is_information_only() -> None:
    [finding] = scan_source("import urllib3\nurllib3.disable_warnings()")
    assert (finding.rule, finding.severity) == ("tls-warnings-silenced", "info")


def test_the_reference_system_source_has_no_finding() -> None:
    city = ROOT / "examples" / "city_system"
    scanned = 0
    for path in sorted(city.rglob("*.py")):
        if {"sast_defects", "tests"} & set(path.relative_to(city).parts):
            continue
        scanned += 1
        assert _failing(path.read_text(encoding="utf-8")) == [], path
    assert scanned >= 15


@pytest.mark.parametrize("code", [
    "requests.get(url, verify=" + "+".join(["'a'"] * 3000) + ")",  # long chain: bounded fold
    "requests.get(url, verify='x' * 10**9)",                         # never built
    "requests.get(url, verify=[0] * 10**9)",
    "A = B\nB = A\nrequests.get(url, verify=A)",                     # cyclic names
    "def f():\n    return f()\nrequests.get(url, verify=f())",       # recursive function
    "requests.get(url, verify=2 ** 10 ** 10)",                       # power is not folded
])
def test_hostile_values_are_judged_boundedly(code: str, monkeypatch: pytest.MonkeyPatch) -> None:
    folds = _count_folds(monkeypatch)
    try:
        findings = _failing(code)
    except RecursionError:  # the worker lists such a file as not analysed (a failure too)
        return
    assert folds[0] <= 20 * _nodes(code)  # work in proportion to the file, not to its values
    assert findings, "an unfoldable value is at least unproven"


def _count_folds(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the rule's folding steps (a deterministic measure of its work, unlike time)."""
    from harness.suites.sast import tls_values

    calls = [0]
    original = tls_values._fold

    def counting(*args: object) -> object:
        calls[0] += 1
        return original(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(tls_values, "_fold", counting)
    return calls


def _nodes(code: str) -> int:
    import ast

    return sum(1 for _ in ast.walk(ast.parse(code)))


# --- the forms really skip verification --------------------------------------------------------

_CLIENT = """
import functools, os, sys, requests
url = sys.argv[1]
form = sys.argv[2]
session = requests.Session()
if form == "verify-true":
    session.get(url, verify=True, timeout=5)
elif form == "verify-empty-string":
    session.get(url, verify='', timeout=5)
elif form == "verify-empty-list":
    session.get(url, verify=[], timeout=5)
elif form == "verify-bool-0":
    session.get(url, verify=bool(0), timeout=5)
elif form == "setattr-verify":
    setattr(session, 'verify', False)
    session.get(url, timeout=5)
elif form == "partial-built-keyword":
    functools.partial(session.get, **{'ver' + 'ify': not True})(url, timeout=5)
elif form == "poolmanager-cert-reqs-0":
    import urllib3
    urllib3.PoolManager(cert_reqs=0).request("GET", url, timeout=5)
print("CONNECTED")
"""


@pytest.mark.parametrize("form", ["verify-empty-string", "verify-empty-list", "verify-bool-0",
                                  "setattr-verify", "partial-built-keyword",
                                  "poolmanager-cert-reqs-0"])
def test_the_form_really_connects_to_an_untrusted_server(form: str, tmp_path: Path) -> None:
    from tests.hostile.servers import recorder_tls

    script = tmp_path / "client.py"
    script.write_text(_CLIENT, encoding="utf-8")
    environment = {k: v for k, v in os.environ.items()
                   if k not in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE")}
    with recorder_tls() as server:
        def run(which: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run([sys.executable, str(script), server.url, which],
                                  capture_output=True, text=True, timeout=60, env=environment,
                                  check=False)

        control = run("verify-true")
        assert "CONNECTED" not in control.stdout and "CERTIFICATE_VERIFY_FAILED" in control.stderr
        dodged = run(form)
        assert dodged.stdout.strip() == "CONNECTED", dodged.stderr[-2000:]
        assert server.hits >= 1
    assert _failing(DISABLING[form][0])


def test_many_bindings_and_long_name_chains_stay_linear(monkeypatch: pytest.MonkeyPatch) -> None:
    """The 2 MB generated file of tests/suites/test_sast.py: 60,000 functions with a parameter
    ``x`` each used in ``x + i`` (an unbounded resolution was quadratic there)."""
    functions = "".join(f"def generated_{i}(x):\n    return x + {i}\n" for i in range(20_000))
    chain = "".join(f"A{i} = A{i + 1}\n" for i in range(2_000)) + "A2000 = False\n"
    code = functions + chain + "requests.get(url, verify=A0)\n"
    folds = _count_folds(monkeypatch)
    findings = _failing(code)
    assert folds[0] <= 5 * _nodes(code)  # quadratic would be ~20,000 x 20,000
    assert [rule for _, rule, _ in findings] == ["tls-verify-unproven"]
