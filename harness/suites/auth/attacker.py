"""An attacker's key server for AUTH-JWT-JKU: serves a JWKS and an x5u certificate on 127.0.0.1.

A token whose ``jku``/``x5u`` header points here is signed with the attacker's key; a SUT that
fetches from here (even if it then refuses the token) lets callers choose its trust anchors.
Runs only for the duration of the check (``with AttackerKeyServer(...) as server:``), port 0.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

JWKS_PATH = "/attacker/jwks.json"
X5U_PATH = "/attacker/x5u.pem"


@dataclass(frozen=True)
class Fetch:
    """One request the SUT made to the attacker's server."""

    method: str
    path: str
    client: str


def self_signed_pem(key: ec.EllipticCurvePrivateKey, common_name: str) -> bytes:
    """A one-day self-signed certificate of the attacker key (what an x5u URL would serve)."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)


class AttackerKeyServer:
    """Plain-HTTP server on 127.0.0.1 (port chosen by the OS) that records every fetch."""

    def __init__(self, jwks: dict[str, Any], x5u_pem: bytes, host: str = "127.0.0.1") -> None:
        self.jwks_body = json.dumps(jwks).encode()
        self.x5u_body = x5u_pem
        self.host = host
        self.fetches: list[Fetch] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("attacker key server is not running")
        return f"http://{self.host}:{self._server.server_address[1]}"

    @property
    def jwks_url(self) -> str:
        return self.base_url + JWKS_PATH

    @property
    def x5u_url(self) -> str:
        return self.base_url + X5U_PATH

    def recorded(self) -> list[Fetch]:
        with self._lock:
            return list(self.fetches)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with server._lock:
                    server.fetches.append(Fetch("GET", self.path, self.client_address[0]))
                if self.path.split("?")[0] == JWKS_PATH:
                    body, media = server.jwks_body, "application/json"
                elif self.path.split("?")[0] == X5U_PATH:
                    body, media = server.x5u_body, "application/pem-certificate-chain"
                else:
                    body, media = b"{}", "application/json"
                self.send_response(200)
                self.send_header("Content-Type", media)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_POST = do_GET

            def log_message(self, format: str, *args: Any) -> None:
                return  # the fetch list is the log; stderr stays quiet

        return Handler

    def start(self) -> Self:
        self._server = ThreadingHTTPServer((self.host, 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name="popcert-attacker-jwks")
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
