"""A completed sslyze scan carried from the scanning child to popcert, and back into objects.

sslyze's results hold cryptography's Rust objects (certificates, OIDs, a trust store's verifier
store), which pickle cannot take: each is sent as what rebuilds it (DER bytes, the dotted OID, the
store's file). Only popcert's own scanning child writes this file (scan.py); the SUT's bytes
reach it as parsed certificates, never as pickle.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from sslyze.plugins.certificate_info.trust_stores.trust_store import TrustStore

CUSTOM_STORE = "Supplied CA file"  # sslyze's name for --certinfo_ca_file's store


def certificate(der: bytes) -> x509.Certificate:
    return x509.load_der_x509_certificate(der)


def object_identifier(dotted: str) -> x509.ObjectIdentifier:
    return x509.ObjectIdentifier(dotted)


def trust_store(path: Path, name: str, version: str,
                ev_oids: list[x509.ObjectIdentifier] | None) -> TrustStore:
    from harness.suites.tls.trust import quietly

    if name == CUSTOM_STORE:  # the run's CA bundle: a bad serial there is worth its warning
        return TrustStore(path, name, version, ev_oids)
    with quietly():  # sslyze's public stores hold roots with serial 0 (trust.py)
        return TrustStore(path, name, version, ev_oids)


class _Pickler(pickle.Pickler):
    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, x509.Certificate):
            return certificate, (obj.public_bytes(Encoding.DER),)
        if isinstance(obj, x509.ObjectIdentifier):
            return object_identifier, (obj.dotted_string,)
        if isinstance(obj, TrustStore):
            return trust_store, (obj.path, obj.name, obj.version, obj.ev_oids)
        return NotImplemented


def dumps(value: Any) -> bytes:
    out = io.BytesIO()
    _Pickler(out, protocol=pickle.HIGHEST_PROTOCOL).dump(value)
    return out.getvalue()


def loads(data: bytes) -> Any:
    return pickle.loads(data)  # written by popcert's own child (see the module doc)
