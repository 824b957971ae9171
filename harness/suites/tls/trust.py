"""sslyze's bundled public root stores, parsed once per process without a misleading warning.

Several public roots in those stores (Go Daddy, Starfield, SECOM, HARICA 2015) carry serial number
0, so cryptography printed "Parsed a serial number which wasn't positive" on every TLS run: about
sslyze's copies of those roots, never about the SUT's certificate.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from cryptography.utils import CryptographyDeprecationWarning
from sslyze.plugins.certificate_info.trust_stores.trust_store_repository import (
    TrustStoresRepository,
)

SERIAL_WARNING = "Parsed a serial number which wasn't positive"


def load_public_trust_stores() -> TrustStoresRepository:
    """Parse the stores now (sslyze caches them for the process), quietly.

    Call before the scan starts its threads (sslyze's cache is not thread-safe). Only this parse is
    quiet: the SUT's chain is parsed later and still warns if its own serial is not positive.
    """
    with quietly():
        return TrustStoresRepository.get_default()


@contextmanager
def quietly() -> Iterator[None]:
    """Parse sslyze's bundled stores (only those) without the serial-number warning."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=SERIAL_WARNING,
                                category=CryptographyDeprecationWarning)
        yield
