"""Hostile HTTP(S) servers on 127.0.0.1 (OS-chosen ports) for popcert's tests and bench/hostile.py.

Each factory returns a started ``HostileServer``; use it as a context manager (it stops on exit):

    with slowloris(interval_s=5) as sut:          # sut.url == "http://localhost:PORT"
        ... point popcert at sut.url with scope.allowed_hosts = sut.scope ...
        assert sut.hits >= 1

Every server reads the whole request (head + Content-Length body, bounded) before misbehaving and
records it: ``.hits`` (requests parsed), ``.requests`` (``Request(method, path, headers, body)``),
``.connections``. ``.scope`` is the ``allowed_hosts`` list under which ``.url`` is in scope.
Redirecting servers carry ``.elsewhere``, a recorder on another port that counts what reaches it:

- ``redirect_out_of_scope(status=302|307)``: ``.url`` is ``http://localhost:P``, scope is
  ``["localhost"]``; the Location is ``http://127.0.0.1:Q/stolen`` (another host name, out of scope).
  A client that follows it shows up as ``sut.elsewhere.hits > 0`` (bodies in ``.elsewhere.requests``).
- ``https_downgrade(status=307)``: ``.url`` is https (self-signed, ``.ca_path``); Location is
  ``http://127.0.0.1:Q/...`` on the same host: in scope by host, refused because it drops TLS.
- ``compression_bomb(encoding="gzip, gzip", size=1 GiB)``: a ~2 KB body that decodes to ``size``
  bytes; also ``"deflate"``, ``"br"`` and any comma-separated stack of them.
- ``encoded(encoding, body)``: ``body`` as given under any Content-Encoding header.
- ``endless_body()``, ``slowloris(interval_s)`` (status line and headers, one byte per interval),
  ``deep_json(depth=1500)``, ``markup()`` (HTML, JS, ANSI and control bytes in a 500 body),
  ``reset()`` (RST after the request), ``hang()`` (never answers), ``recorder()`` (plain 200 ``{}``).
- ``redirect_same_origin(status)``: Location ``/moved...`` on the same server (a follower shows up
  as a ``/moved`` request in ``.requests``).
- ``tls_hello_flood(spare=0)``: ``.url`` is https; after the ClientHello an endless stream of 9-byte
  TLS HelloRequest records (OpenSSL skips each inside one C call: no socket timeout fires); the
  first ``spare`` connections get a real handshake and a 200.
- ``endless_trailer()``: a chunked 200 whose trailer section never ends (one field a line).
``CATALOGUE`` maps a case name to a no-argument factory (what bench/hostile.py runs);
``PeakRss(pid)`` samples the RSS of a whole process tree (what tests and the bench assert on).
"""

from __future__ import annotations

import datetime
import functools
import json
import socket
import ssl
import struct
import tempfile
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

MAX_REQUEST_BODY = 1_048_576


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


Behaviour = Callable[[socket.socket, Request, "HostileServer"], None]


def read_request(conn: socket.socket) -> Request | None:
    """The request head and its Content-Length body (bounded); None when it is not HTTP."""
    conn.settimeout(5)
    data = b""
    try:
        while b"\r\n\r\n" not in data and len(data) < 65536:
            chunk = conn.recv(4096)
            if not chunk:
                break
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        if not lines or len(lines[0].split(" ")) < 2:
            return None
        method, path = lines[0].split(" ")[:2]
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        wanted = min(int(headers.get("content-length", "0") or 0), MAX_REQUEST_BODY)
        while len(body) < wanted:
            chunk = conn.recv(65536)
            if not chunk:
                break
            body += chunk
        return Request(method, path, headers, body[:wanted])
    except (OSError, ValueError):
        return None


class Listener:
    """127.0.0.1, OS-chosen port, a thread per connection; ``stop()`` closes every connection.

    Subclasses answer a connection in ``handle`` and set what it needs before ``__init__`` here
    (the accept thread starts at its end). tests/conftest.py's ``LoopbackServer`` is one too.
    """

    def __init__(self) -> None:
        self.connections = 0
        self.stopped = threading.Event()
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(128)
        self._sock.settimeout(0.1)
        self.port: int = self._sock.getsockname()[1]
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def handle(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def track(self, conn: socket.socket) -> None:
        """Close ``conn`` (e.g. a TLS-wrapped socket) on ``stop()`` too."""
        with self._lock:
            self._open.append(conn)

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            with self._lock:
                self.connections += 1
                self._open.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            self.handle(conn)
        except OSError:  # ssl.SSLError included
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def stop(self) -> None:
        self.stopped.set()
        self._thread.join(timeout=5)
        self._sock.close()
        with self._lock:
            for conn in self._open:
                try:
                    conn.close()
                except OSError:
                    pass


class HostileServer(Listener):
    """One behaviour on 127.0.0.1, OS-chosen port, a thread per connection; always stopped."""

    def __init__(self, behaviour: Behaviour, *, tls: bool = False, host_name: str = "127.0.0.1",
                 scope: list[str] | None = None, elsewhere: HostileServer | None = None,
                 hold_unparsed: bool = False) -> None:
        self.behaviour = behaviour
        self.hold_unparsed = hold_unparsed  # keep a connection that sent no HTTP (e.g. TLS) open
        self.elsewhere = elsewhere
        self.requests: list[Request] = []
        self.ca_path: Path | None = None
        # A vendor source tree to certify with it (source.path), and the statuses the bench and
        # tests/hostile expect of given checks (issue 24: a dodge must fail its check, not pass).
        self.source_path: Path | None = None
        self.expect: dict[str, str] = {}
        self._context: ssl.SSLContext | None = None
        if tls:
            cert, key = _self_signed()
            self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self._context.load_cert_chain(cert, key)
            self.ca_path = cert
        super().__init__()
        self.url = f"{'https' if tls else 'http'}://{host_name}:{self.port}"
        self.scope = scope or ["127.0.0.1", "localhost"]

    @property
    def hits(self) -> int:
        return len(self.requests)

    def handle(self, conn: socket.socket) -> None:
        if self._context is not None:
            conn.settimeout(5)
            conn = self._context.wrap_socket(conn, server_side=True)
            self.track(conn)
        request = read_request(conn)
        if request is None:
            if self.hold_unparsed:
                self.stopped.wait(600)
            return
        with self._lock:
            self.requests.append(request)
        conn.settimeout(30)
        self.behaviour(conn, request, self)

    def stop(self) -> None:
        super().stop()
        if self.elsewhere is not None:
            self.elsewhere.stop()


def _head(status: int, headers: dict[str, str], length: int | None) -> bytes:
    lines = [f"HTTP/1.1 {status} Hostile"] + [f"{k}: {v}" for k, v in headers.items()]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _answer(conn: socket.socket, status: int, headers: dict[str, str], body: bytes) -> None:
    conn.sendall(_head(status, headers, len(body)) + body)


# --- behaviours ---------------------------------------------------------------------------------

def recorder() -> HostileServer:
    """A well-behaved 200 ``{}``: the 'elsewhere' that counts what a redirect-follower sends."""
    return HostileServer(lambda conn, req, srv: _answer(
        conn, 200, {"Content-Type": "application/json"}, b"{}"))


def recorder_tls() -> HostileServer:
    """``recorder()`` over TLS with a self-signed certificate no client trusts by default: a client
    that gets its 200 did not verify the server (tests/unit/test_tls_rule_corpus.py)."""
    return HostileServer(lambda conn, req, srv: _answer(
        conn, 200, {"Content-Type": "application/json"}, b"{}"), tls=True)


def _redirecting(location: str, status: int) -> Behaviour:
    def behaviour(conn: socket.socket, request: Request, server: HostileServer) -> None:
        _answer(conn, status, {"Location": location + request.path,
                               "Content-Type": "text/plain"}, b"moved")
    return behaviour


def redirect_out_of_scope(status: int = 307) -> HostileServer:
    elsewhere = recorder()
    return HostileServer(_redirecting(f"http://127.0.0.1:{elsewhere.port}/stolen", status),
                         host_name="localhost", scope=["localhost"], elsewhere=elsewhere)


def redirect_same_origin(status: int = 307) -> HostileServer:
    """Location ``/moved<path>`` on this very server: a follower shows up as a ``/moved`` request."""
    return HostileServer(_redirecting("/moved", status))


def https_downgrade(status: int = 307) -> HostileServer:
    elsewhere = recorder()
    return HostileServer(_redirecting(f"http://127.0.0.1:{elsewhere.port}", status), tls=True,
                         elsewhere=elsewhere)


def compression_bomb(encoding: str = "gzip, gzip", size: int = 1 << 30) -> HostileServer:
    body = bomb_body(encoding, size)

    def behaviour(conn: socket.socket, request: Request, server: HostileServer) -> None:
        _answer(conn, 200, {"Content-Type": "application/json", "Content-Encoding": encoding},
                body)
    return HostileServer(behaviour)


@functools.lru_cache(maxsize=8)
def bomb_body(encoding: str, size: int) -> bytes:
    """``size`` zero bytes with each coding of ``encoding`` applied in order (as HTTP lists them)."""
    codings = [c.strip() for c in encoding.split(",") if c.strip()]
    first, rest = codings[0], codings[1:]
    body = _compress_zeros(first, size)
    for coding in rest:
        body = _compress(coding, body)
    return body


def _compressor(coding: str) -> Any:
    if coding == "br":
        import brotli

        class _Br:
            def __init__(self) -> None:
                self._c = brotli.Compressor(quality=5)

            def compress(self, data: bytes) -> bytes:
                return bytes(self._c.process(data))

            def flush(self) -> bytes:
                return bytes(self._c.finish())
        return _Br()
    wbits = {"gzip": 31, "x-gzip": 31, "deflate": 15}[coding]
    return zlib.compressobj(9, zlib.DEFLATED, wbits)


def _compress_zeros(coding: str, size: int) -> bytes:
    compressor = _compressor(coding)
    block = bytes(1 << 24)
    parts = []
    for start in range(0, size, len(block)):
        parts.append(compressor.compress(block[: min(len(block), size - start)]))
    parts.append(compressor.flush())
    return b"".join(parts)


def _compress(coding: str, data: bytes) -> bytes:
    compressor = _compressor(coding)
    return compressor.compress(data) + compressor.flush()


def encoded(encoding: str, body: bytes) -> HostileServer:
    """200 with ``body`` as given and ``Content-Encoding: encoding`` (none when empty): a stack
    too long, a corrupt stream, a coding nobody offered."""
    headers = {"Content-Type": "application/json"}
    if encoding:
        headers["Content-Encoding"] = encoding
    return HostileServer(lambda conn, req, srv: _answer(conn, 200, headers, body))


def endless_body() -> HostileServer:
    def behaviour(conn: socket.socket, request: Request, server: HostileServer) -> None:
        conn.sendall(_head(200, {"Content-Type": "application/json"}, None) + b"[")
        chunk = b"0," * 32768
        while not server.stopped.is_set():
            conn.sendall(chunk)  # until the client hangs up (OSError ends the thread)
    return HostileServer(behaviour)


def slowloris(interval_s: float = 5.0) -> HostileServer:
    """Status line and headers one byte every ``interval_s``: no idle timeout ever fires."""
    def behaviour(conn: socket.socket, request: Request, server: HostileServer) -> None:
        for byte in _head(200, {"Content-Type": "application/json"}, 2) + b"{}":
            conn.sendall(bytes([byte]))
            if server.stopped.wait(interval_s):
                return
    return HostileServer(behaviour)


def deep_json(depth: int = 1500) -> HostileServer:
    body = ('{"detail":' * depth + '"deep"' + "}" * depth).encode()
    return HostileServer(lambda conn, req, srv: _answer(
        conn, 200, {"Content-Type": "application/json"}, body))


MARKUP = (b"<html><script>alert(document.cookie)</script><img src=x onerror=alert(1)>"
          b"\x1b[2J\x1b[1;32mCERTIFIED\x1b[0m\x1b]0;pwned\x07\x08\x08\r\x00</html>")


def markup(status: int = 500) -> HostileServer:
    return HostileServer(lambda conn, req, srv: _answer(
        conn, status, {"Content-Type": "text/html; charset=utf-8",
                       "X-Note": "<script>alert(2)</script>"}, MARKUP))


def reset() -> HostileServer:
    def behaviour(conn: socket.socket, request: Request, server: HostileServer) -> None:
        # SO_LINGER with a zero timeout makes close() send RST instead of FIN.
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    return HostileServer(behaviour)


def hang() -> HostileServer:
    """Never answers, whatever is sent (HTTP or a TLS ClientHello)."""
    return HostileServer(lambda conn, req, srv: srv.stopped.wait(600) and None,
                         hold_unparsed=True)


# --- issue 24: what a published OpenAPI document or a source tree can do to pass ----------------

def _serving_openapi(document: Any) -> Behaviour:
    body = json.dumps(document).encode()

    def behaviour(conn: socket.socket, request: Request, server: HostileServer) -> None:
        wanted = request.path.split("?", 1)[0].endswith("/openapi.json")
        _answer(conn, 200, {"Content-Type": "application/json"}, body if wanted else b"{}")
    return behaviour


def _shared_spec() -> dict[str, Any]:
    import yaml

    path = Path(__file__).resolve().parents[2] / "specs" / "connection" / "v1" / "openapi.yaml"
    loaded: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return loaded


def hollow_openapi_document(templated: bool = True) -> dict[str, Any]:
    """Every operation of the shared spec as ``{}``: ~350 bytes that describe nothing (with the
    path templates kept it is not even valid OpenAPI; without them it is, and describes nothing)."""
    shared = _shared_spec()
    paths = {(p if templated else p.replace("{", "").replace("}", "")):
             {m: {} for m in item if m in ("get", "put", "post", "delete", "patch")}
             for p, item in shared["paths"].items()}
    return {"openapi": "3.1.0", "info": {"title": "x", "version": "1"},
            "servers": shared["servers"], "paths": paths}


MALFORMED_OPENAPI = {"openapi": "3.1.0", "info": {"title": "x", "version": "1"},
                     "servers": "https://127.0.0.1", "paths": {
                         "/connection/v1/dossiers": [{"get": {}}],
                         "/connection/v1/health": {"get": {"parameters": 5}}}}


def hollow_openapi(templated: bool = False) -> HostileServer:
    """200 ``{}`` to everything, and a published /openapi.json whose operations are all ``{}``."""
    server = HostileServer(_serving_openapi(hollow_openapi_document(templated)))
    server.expect = {"CONF-SPEC-DRIFT": "fail"}
    return server


def malformed_openapi() -> HostileServer:
    """200 ``{}`` to everything; /openapi.json has a path item that is a list, ``servers`` as a
    string and ``parameters: 5`` (issue 24: the comparison raised AttributeError on it)."""
    server = HostileServer(_serving_openapi(MALFORMED_OPENAPI))
    server.expect = {"CONF-SPEC-DRIFT": "fail"}
    return server


def tls_verify_dodges() -> HostileServer:
    """A benign SUT whose vendor source tree turns TLS verification off in every way of
    tests/hostile/tls_verify_corpus.py, one file per form (``.source_path``)."""
    from tests.hostile.tls_verify_corpus import DISABLING

    folder = Path(tempfile.mkdtemp(prefix="popcert-hostile-source-")) / "src"
    folder.mkdir()
    for name, (code, _) in DISABLING.items():
        (folder / (name.replace("-", "_") + ".py")).write_text(code + "\n", encoding="utf-8")
    server = recorder()
    server.source_path = folder
    server.expect = {"SAST-TLS-VERIFY": "fail"}
    return server


# A TLS record (handshake, TLS 1.2) holding one HelloRequest: type 0, empty body.
HELLO_REQUEST = bytes.fromhex("160303000400000000")
FLOOD_LIMIT_S = 600.0  # bounded: a flood connection ends after this, or when the server stops


class _TlsFlood(HostileServer):
    """Answers a ClientHello with HelloRequest records, sent faster than OpenSSL skips them;
    the first ``spare`` connections get a proper handshake (and 200 ``{}``)."""

    def __init__(self, spare: int) -> None:
        self.spare = spare
        self._accepted = 0
        super().__init__(lambda conn, req, srv: _answer(
            conn, 200, {"Content-Type": "application/json"}, b"{}"), tls=True)

    def handle(self, conn: socket.socket) -> None:
        with self._lock:
            self._accepted += 1
            spared = self._accepted <= self.spare
        if spared:
            super().handle(conn)
            return
        conn.settimeout(5)  # a client that stops reading ends the flood (sendall times out)
        hello = conn.recv(16384)
        if not hello or hello[0] != 0x16:  # not a TLS handshake record
            return
        burst = HELLO_REQUEST * 8192
        until = time.monotonic() + FLOOD_LIMIT_S
        while not self.stopped.is_set() and time.monotonic() < until:
            conn.sendall(burst)


def tls_hello_flood(spare: int = 0) -> HostileServer:
    """``spare``: connections answered properly before the flood starts (a client that checks
    the endpoint with one handshake first sees a sound server)."""
    return _TlsFlood(spare)


def endless_trailer() -> HostileServer:
    """A complete chunked body, then trailer fields forever (no empty line ends the message)."""
    def behaviour(conn: socket.socket, request: Request, server: HostileServer) -> None:
        head = (b"HTTP/1.1 200 Hostile\r\nContent-Type: application/json\r\n"
                b"Transfer-Encoding: chunked\r\nTrailer: X-Pad\r\n\r\n2\r\n{}\r\n0\r\n")
        conn.sendall(head)
        fields = b"X-Pad: 0\r\n" * 4096
        until = time.monotonic() + FLOOD_LIMIT_S
        while not server.stopped.is_set() and time.monotonic() < until:
            conn.sendall(fields)  # until the client hangs up (OSError ends the thread)
    return HostileServer(behaviour)


CATALOGUE: dict[str, Callable[[], HostileServer]] = {
    "redirect-302-out-of-scope": lambda: redirect_out_of_scope(302),
    "redirect-307-out-of-scope": lambda: redirect_out_of_scope(307),
    "redirect-same-origin": redirect_same_origin,
    "https-to-http-redirect": https_downgrade,
    "gzip-gzip-bomb": lambda: compression_bomb("gzip, gzip"),
    "deflate-bomb": lambda: compression_bomb("deflate"),
    "br-bomb": lambda: compression_bomb("br"),
    "endless-body": endless_body,
    "slowloris": slowloris,
    "deep-json": deep_json,
    "markup-ansi": markup,
    "reset": reset,
    "hang": hang,
    "openapi-hollow": hollow_openapi,
    "openapi-hollow-templated": lambda: hollow_openapi(templated=True),
    "openapi-malformed": malformed_openapi,
    "tls-verify-dodges": tls_verify_dodges,
    "tls-hello-flood": tls_hello_flood,
    "tls-hello-flood-after-one": lambda: tls_hello_flood(spare=1),
    "endless-trailer": endless_trailer,
}


class PeakRss:
    """Samples the RSS of process ``pid`` plus all its descendants (Linux /proc) every ``every_s``.

    ``with PeakRss(os.getpid()) as rss: ...`` then ``rss.peak_mib``; a process tree that spikes
    between two samples can be missed, so sample often (default 50 ms).
    """

    def __init__(self, pid: int, every_s: float = 0.05) -> None:
        self.pid = pid
        self.every_s = every_s
        self.peak_bytes = 0
        self.at_peak: dict[str, int] = {}  # "pid command" -> MiB, when the tree peaked
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @property
    def peak_mib(self) -> float:
        return self.peak_bytes / 1048576

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sample()

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            self.sample()

    def sample(self) -> int:
        sizes = {pid: _rss_bytes(pid) for pid in tree_pids(self.pid)}
        total = sum(sizes.values())
        if total > self.peak_bytes:
            self.peak_bytes = total
            self.at_peak = {f"{pid} {_command(pid)}": size // 1048576
                            for pid, size in sizes.items() if size}
        return total


def tree_pids(root: int) -> list[int]:
    """``root`` and every live descendant, from the parent ids in /proc/<pid>/stat."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    found, pending = [], [root]
    while pending:
        pid = pending.pop()
        found.append(pid)
        pending += children.get(pid, [])
    return found


def _command(pid: int) -> str:
    try:
        words = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "?"
    return " ".join(w.decode(errors="replace") for w in words[:4])[:80]


def _rss_bytes(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


@functools.lru_cache(maxsize=1)
def _self_signed() -> tuple[Path, Path]:
    """A throwaway self-signed certificate for 127.0.0.1 and localhost (its own CA bundle)."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hostile.test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    folder = Path(tempfile.mkdtemp(prefix="popcert-hostile-"))
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return folder / "cert.pem", folder / "key.pem"


__all__ = [
    "CATALOGUE",
    "HostileServer",
    "Listener",
    "PeakRss",
    "Request",
    "bomb_body",
    "compression_bomb",
    "deep_json",
    "encoded",
    "endless_body",
    "endless_trailer",
    "hang",
    "https_downgrade",
    "markup",
    "read_request",
    "recorder",
    "redirect_out_of_scope",
    "redirect_same_origin",
    "reset",
    "slowloris",
    "tls_hello_flood",
    "tree_pids",
]
