"""The "Parsed a serial number which wasn't positive" warning of every TLS run (issue 13).

It came from sslyze's bundled public root stores (roots with serial 0), parsed by the TLS scan,
never from the SUT's certificate; the scan now parses them quietly, and only them.
"""

from __future__ import annotations

import warnings

import pytest
from cryptography import x509
from sslyze.plugins.certificate_info.trust_stores.trust_store_repository import (
    TrustStoresRepository,
)

from harness.suites.tls import scan as tls_scan
from harness.suites.tls.trust import SERIAL_WARNING, load_public_trust_stores


@pytest.fixture
def fresh_stores(monkeypatch: pytest.MonkeyPatch) -> None:
    # sslyze caches the parsed stores per process: start from nothing, as a fresh run does.
    monkeypatch.setattr(TrustStoresRepository, "_DEFAULT_REPOSITORY", None)


def serial_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in caught if SERIAL_WARNING in str(w.message)]


def test_the_bundled_stores_are_the_source_of_the_warning(fresh_stores: None) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        TrustStoresRepository.get_default()
    assert serial_warnings(caught), "sslyze's stores no longer warn: drop tls/trust.py"


def test_the_scan_path_loads_the_stores_without_the_warning(fresh_stores: None) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        repository = load_public_trust_stores()
    assert serial_warnings(caught) == []
    assert TrustStoresRepository._DEFAULT_REPOSITORY is repository  # the scan reuses this parse


def test_the_scan_loads_the_stores_before_its_threads_start(
        fresh_stores: None, monkeypatch: pytest.MonkeyPatch) -> None:
    class Stop(Exception):
        pass

    def refuse(*args: object, **kwargs: object) -> None:
        raise Stop

    monkeypatch.setattr(tls_scan, "Scanner", refuse)
    # The scanning child runs scan_here: the stores load there before its threads start.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(Stop):
            tls_scan.scan_here(tls_scan.TlsTarget("127.0.0.1", 8443))
    assert TrustStoresRepository._DEFAULT_REPOSITORY is not None
    assert serial_warnings(caught) == []


def test_a_certificate_parsed_afterwards_still_warns(fresh_stores: None) -> None:
    # The filter is scoped to the stores' parse: a SUT certificate with serial 0 is not hidden.
    repository = load_public_trust_stores()
    pem = repository.get_main_store().path.read_bytes()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        certificates = x509.load_pem_x509_certificates(pem)
        assert any(c.serial_number <= 0 for c in certificates)
    assert serial_warnings(caught)
