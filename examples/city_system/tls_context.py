"""The server's TLS context: certificate, protocol/cipher policy and client-certificate (mTLS) policy.

The protocol/cipher policy comes from ``tls_profile.build_server_context`` (which honours the ``tls.*``
switches) when that module is present; otherwise a strong default is built here. The mTLS part is
always applied here because the ``mtls.*`` switches belong to this system.
"""

from __future__ import annotations

import ssl
from pathlib import Path

from popcert_city.defects import active, current

# OpenSSL X509_V_FLAG_NO_CHECK_TIME: skip validity-period checks (what mtls.expired_cert_accepted does)
_NO_CHECK_TIME = 0x200000
AEAD_ECDHE_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20"


def strong_server_context(cert_path: Path, key_path: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(AEAD_ECDHE_CIPHERS)  # TLS 1.2: forward secrecy + AEAD only (1.3 is always so)
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_CIPHER_SERVER_PREFERENCE
    context.load_cert_chain(str(cert_path), str(key_path))
    return context


def _profile_context(cert_path: Path, key_path: Path) -> ssl.SSLContext:
    try:
        from popcert_city import tls_profile
    except ImportError:
        return strong_server_context(cert_path, key_path)
    # client_auth stays "off" there: the mtls.* switches are applied in server_context below
    context: ssl.SSLContext = tls_profile.build_server_context(current(), cert_path, key_path)
    return context


def server_context(cert_path: Path, key_path: Path, *, mtls: str, client_ca: Path,
                   foreign_ca: Path | None = None) -> ssl.SSLContext:
    context = _profile_context(cert_path, key_path)
    if mtls == "off":
        return context  # a PROTOCOL_TLS_SERVER context asks for no client certificate by default
    context.load_verify_locations(cafile=str(client_ca))
    if foreign_ca is not None and active("mtls.foreign_ca_accepted"):
        context.load_verify_locations(cafile=str(foreign_ca))
    if active("mtls.expired_cert_accepted"):
        context.verify_flags |= _NO_CHECK_TIME
    required = mtls == "required" and not active("mtls.optional")
    # CERT_REQUIRED: a client without a valid national-CA certificate fails the handshake itself
    context.verify_mode = ssl.CERT_REQUIRED if required else ssl.CERT_OPTIONAL
    return context
