"""uvicorn HTTP protocol that exposes the TLS peer certificate in the ASGI scope.

uvicorn 0.54 does not put the client certificate in the scope; this subclass adds
``scope["extensions"]["tls"] = {"client_cert_chain": [PEM...]}`` (the ASGI TLS extension shape)
and the transport under ``"popcert.transport"`` so the fault injector can reset a connection.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class TLSHttpToolsProtocol(HttpToolsProtocol):
    _peer_chain: list[str]

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._peer_chain = []
        ssl_object: ssl.SSLObject | None = transport.get_extra_info("ssl_object")
        if ssl_object is not None:
            der = ssl_object.getpeercert(binary_form=True)
            if der:
                self._peer_chain = [ssl.DER_cert_to_PEM_cert(der)]

    def on_message_begin(self) -> None:
        super().on_message_begin()
        extensions: dict[str, Any] = {"popcert.transport": self.transport}
        if self._peer_chain:
            extensions["tls"] = {"client_cert_chain": list(self._peer_chain)}
        self.scope["extensions"] = extensions  # type: ignore[typeddict-unknown-key]
