"""Scope-safe HTTP for every suite: traffic only to declared hosts, bounded bodies, no exceptions.

A hostile SUT may hang, trickle bytes, reset, send garbage, gigabytes or compression bombs, or
redirect elsewhere; ``SafeClient`` turns each of those into an ``Exchange`` (``.error`` set, or
``.truncated``, or a redirect kept as evidence), so a check reports with evidence instead of
crashing the run. Guarantees: docs/security-model.md.
"""

from __future__ import annotations

import ipaddress
import json
import shlex
import ssl
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self
from urllib.parse import urlsplit

import httpcore
import httpx

from harness.checks import Evidence, ShellVariable
from harness.errors import OutOfScopeError
from harness.hostile import decode
from harness.hostile.deadline import (
    CURRENT,
    HandshakeTimeout,
    handshake_deadline,
    remaining,
)
from harness.hostile.decode import ACCEPT_ENCODING, HAS_BROTLI
from harness.hostile.limits import (
    DECODE_STEP_BYTES,
    MAX_BODY_BYTES,
    MAX_CODINGS,
    REDIRECT_STATUSES,
)

MAX_RESPONSE_BYTES = MAX_BODY_BYTES
DECODABLE = frozenset(decode.DECODERS)
__all__ = ["ACCEPT_ENCODING", "DECODABLE", "HAS_BROTLI", "MAX_CODINGS", "MAX_RESPONSE_BYTES",
           "Exchange", "SafeClient", "ScopeGuard", "TlsMaterial", "curl_command"]


class ScopeGuard:
    """The hosts this run may talk to. Everything else is refused before a packet leaves."""

    def __init__(self, allowed_hosts: Iterable[str]) -> None:
        self.allowed = frozenset(h.lower().strip("[]") for h in allowed_hosts)

    def allows(self, host: str) -> bool:
        host = host.lower().strip("[]")
        if host in self.allowed:
            return True
        if host == "localhost":
            return "127.0.0.1" in self.allowed or "::1" in self.allowed
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(_in_network(address, entry) for entry in self.allowed)

    def check_url(self, url: str) -> str:
        host = urlsplit(url).hostname or ""
        if not self.allows(host):
            raise OutOfScopeError(
                f"{url}: host {host!r} is not in scope.allowed_hosts {sorted(self.allowed)}")
        return url


def _in_network(address: ipaddress.IPv4Address | ipaddress.IPv6Address, entry: str) -> bool:
    if "/" not in entry:
        return False
    try:
        return address in ipaddress.ip_network(entry, strict=False)
    except ValueError:
        return False


@dataclass
class Exchange:
    """One request and what came back (or why nothing usable came back)."""

    method: str
    url: str
    request_headers: dict[str, str]
    request_body: Any = None
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    truncated: bool = False
    elapsed_ms: float | None = None
    error: str | None = None

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The parsed body, or None when it is not JSON (garbage from a SUT is not an exception)."""
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError, RecursionError):  # nested 1,500 deep is garbage too
            return None

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    @property
    def redirect_location(self) -> str | None:
        """Where the SUT tried to send us, when this answer is a redirect popcert did not follow."""
        if self.status in REDIRECT_STATUSES:
            return self.headers.get("location", "")
        return None

    def evidence(self) -> tuple[Evidence, ...]:
        body: Any = self.text + (" [truncated]" if self.truncated else "")
        response = Evidence.response(self.status, self.headers, body, self.elapsed_ms)
        if self.error:
            response = Evidence.response(None, {}, f"no usable response: {self.error}",
                                         self.elapsed_ms)
        evidence: tuple[Evidence, ...] = (
            Evidence.request(self.method, self.url, self.request_headers, self.request_body), response)
        if self.redirect_location is not None and not self.error:
            evidence += (Evidence.note(
                f"the SUT answered {self.status} redirecting to {self.redirect_location!r}; "
                "popcert does not follow redirects (scope: docs/security-model.md)",
                title="redirect not followed"),)
        return evidence


@dataclass(frozen=True)
class TlsMaterial:
    ca_bundle: Path | None = None
    client_cert: Path | None = None
    client_key: Path | None = None
    verify: bool = True
    # Whose client certificate this is, for a reproduction's $CLIENT_CERT line: the portal's
    # valid one unless a check presents another (mock NPDB PKI: valid, expired, foreign).
    client_id: str = "portal"
    cert_kind: str = "valid"

    def httpx_verify(self) -> Any:
        if not self.verify:
            return False
        return str(self.ca_bundle) if self.ca_bundle else True

    def httpx_cert(self) -> Any:
        if self.client_cert and self.client_key:
            return (str(self.client_cert), str(self.client_key))
        return None


class SafeClient:
    """httpx with scope checks on every hop, a total deadline and a decoded-size bound.

    - Never follows a redirect unless asked (``follow_redirects=N``), and then only to an
      in-scope host and never from https to http; an unfollowed redirect is kept as evidence.
    - Every request ends within ``deadline_s`` (default ``timeout_s``) in total: connect, TLS,
      status line, headers and body. A server trickling one byte every few seconds never
      trips an idle timeout, so every socket operation gets only what is left of the deadline.
    - At most ``max_bytes`` of *decoded* body are produced, decoding step by step, so a 2 KB
      ``Content-Encoding: gzip, gzip`` response cannot expand in memory (harness/hostile/decode.py;
      a body over the bound is kept truncated as evidence).
    - A TLS handshake stuck inside OpenSSL (a HelloRequest flood) is ended at the deadline by a
      watchdog that shuts the socket down (harness/hostile/deadline.py).
    """

    def __init__(self, scope: ScopeGuard, tls: TlsMaterial | None = None,
                 timeout_s: float = 10.0, max_bytes: int = MAX_RESPONSE_BYTES,
                 deadline_s: float | None = None) -> None:
        self.scope = scope
        self.tls = tls or TlsMaterial()
        self.timeout_s = timeout_s
        self.deadline_s = deadline_s or timeout_s
        self.max_bytes = max_bytes
        context: Any = self.tls.httpx_verify()
        if context is not False:
            context = ssl.create_default_context(cafile=str(self.tls.ca_bundle)) \
                if self.tls.ca_bundle else ssl.create_default_context()
            cert = self.tls.httpx_cert()
            if cert:
                context.load_cert_chain(*cert)
        # trust_env=False: an HTTP(S)_PROXY variable must not route SUT traffic to another host.
        self._client = httpx.Client(transport=_DeadlineTransport(verify=context),
                                    timeout=timeout_s, follow_redirects=False, trust_env=False,
                                    headers={"Accept-Encoding": ACCEPT_ENCODING})

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, method: str, url: str, *, headers: dict[str, str] | None = None,
                json_body: Any = None, content: bytes | str | None = None,
                params: dict[str, Any] | None = None, follow_redirects: int = 0) -> Exchange:
        headers = dict(headers or {})
        exchange = Exchange(method.upper(), url, headers,
                            json_body if json_body is not None else content)
        try:
            self.scope.check_url(url)
        except OutOfScopeError as refused:
            exchange.error = f"refused by scope: {refused}"
            return exchange
        started = time.monotonic()
        CURRENT.at = started + self.deadline_s
        try:
            for hop in range(follow_redirects + 1):
                with self._client.stream(method, url, headers=headers, json=json_body,
                                         content=content, params=params) as response:
                    exchange.status = response.status_code
                    exchange.headers = {k.lower(): v for k, v in response.headers.items()}
                    exchange.body, exchange.truncated = self._read_bounded(response)
                location = exchange.headers.get("location")
                if not (response.status_code in REDIRECT_STATUSES and location
                        and hop < follow_redirects):
                    break
                target = str(response.url.join(location))
                _refuse_redirect(self.scope, url, target)
                if _origin(target) != _origin(url):
                    # Like requests: credentials never follow a redirect to another origin.
                    headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
                url = exchange.url = target
        except OutOfScopeError as refused:
            exchange.error = f"redirect refused by scope: {refused}"
        except (httpx.HTTPError, OSError, ValueError) as failure:  # decode.BodyRefused included
            exchange.error = f"{type(failure).__name__}: {failure}"
            if time.monotonic() - started >= self.deadline_s:
                exchange.error += f" (total deadline of {self.deadline_s:g} s reached)"
        finally:
            CURRENT.at = None
        exchange.elapsed_ms = round((time.monotonic() - started) * 1000, 1)
        return exchange

    def _read_bounded(self, response: httpx.Response) -> tuple[bytes, bool]:
        """The decoded body and whether it was cut at ``max_bytes`` (kept as evidence)."""
        applied = decode.codings(response.headers.get("content-encoding"))
        chunks: Iterator[bytes] = response.iter_raw(DECODE_STEP_BYTES)
        if decode.decodable(applied):
            chunks = decode.decoded(chunks, applied)
        # else: an encoding popcert did not offer; the raw bytes are the evidence, undecoded.
        try:
            return decode.capped(chunks, self.max_bytes), False
        except decode.BodyTooLarge as cut:
            return cut.kept, True


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or "").lower(), parts.port


def _refuse_redirect(scope: ScopeGuard, source: str, target: str) -> None:
    scope.check_url(target)  # a redirect to another host is refused, not followed
    if urlsplit(source).scheme == "https" and urlsplit(target).scheme != "https":
        raise OutOfScopeError(f"{source} redirects to {target}: https to http (the request "
                              "and its credentials would travel in clear text)")


def _remaining(timeout: float | None, kind: type[Exception]) -> float | None:
    return remaining(timeout, kind)


class _DeadlineStream(httpcore.NetworkStream):
    """A socket stream whose every operation gets at most what is left of the deadline."""

    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _remaining(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _remaining(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        # CPython bounds the handshake's waits by the socket timeout, but a peer flooding
        # HelloRequest records keeps OpenSSL inside one C call: the watchdog ends that.
        bound = _remaining(timeout, httpcore.ConnectTimeout)  # min(socket timeout, deadline)
        at = time.monotonic() + (bound if bound is not None else 30.0)
        try:
            with handshake_deadline(self._stream.get_extra_info("socket"), at):
                return _DeadlineStream(self._stream.start_tls(ssl_context, server_hostname,
                                                              bound))
        except HandshakeTimeout as stuck:
            raise httpcore.ConnectTimeout(str(stuck)) from stuck

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self) -> None:
        self._backend = httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        return _DeadlineStream(self._backend.connect_tcp(
            host, port, _remaining(timeout, httpcore.ConnectTimeout), local_address,
            socket_options))

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


class _DeadlineTransport(httpx.HTTPTransport):
    """httpx's own transport (exception mapping, streaming) over the deadline-aware backend."""

    def __init__(self, verify: Any) -> None:
        super().__init__(verify=verify, trust_env=False)
        self._pool = httpcore.ConnectionPool(ssl_context=httpx.create_ssl_context(verify=verify), max_connections=100,
                                             max_keepalive_connections=20, keepalive_expiry=5.0,
                                             network_backend=_DeadlineBackend())


# A reproduction names local files and genuine credentials as shell variables, never by value
# (docs/reports.md, "Reproduction commands"): each comes with how to get one from the mock NPDB.
CA_BUNDLE = ShellVariable(
    "CA_BUNDLE", "the CA certificate that verifies the system's server certificate (the run "
    "config's target.ca_bundle; in the lab, the mock NPDB's CA)", "popcert mock credential ca")


RUN_CONFIG = ShellVariable(
    "RUN_CONFIG", "the run config (run.yaml) of this run; for the bundled lab, run `popcert demo "
    "--suite SUITE` instead", "")


def rerun_command(suite: str, seed: int | None = None) -> str:
    """The popcert command that runs ``suite`` again: the reproduction of a measurement made by
    popcert's own children (fuzzer, load generator), whose command lines name popcert's files."""
    return (f'popcert certify -c "$RUN_CONFIG" --suite {shlex.quote(suite)}'
            + (f" --seed {seed}" if seed is not None else ""))


def tls_variables(tls: TlsMaterial | None) -> tuple[ShellVariable, ...]:
    """The variables ``curl_command`` writes for ``tls``: $CA_BUNDLE, $CLIENT_CERT, $CLIENT_KEY."""
    if tls is None:
        return ()
    found: list[ShellVariable] = [CA_BUNDLE] if tls.ca_bundle else []
    if tls.client_cert and tls.client_key:
        whose = f"{tls.client_id}'s {tls.cert_kind} client certificate"
        options = f"--client {shlex.quote(tls.client_id)} --kind {shlex.quote(tls.cert_kind)}"
        found += [ShellVariable("CLIENT_CERT", f"the {whose} (PEM file; the run config's "
                                "target.client_cert for the portal's valid one)",
                                f"popcert mock credential cert {options}"),
                  ShellVariable("CLIENT_KEY", f"the private key of the {whose} (PEM file)",
                                f"popcert mock credential key {options}")]
    return tuple(found)


def token_variable(client_id: str, scopes: Iterable[str], audience: str = "connection-api"
                   ) -> ShellVariable:
    """$TOKEN: a genuine bearer token of the national token service (a credential, never shown)."""
    scope = " ".join(scopes)
    command = (f"popcert mock credential token --client {shlex.quote(client_id)} "
               f"--scope {shlex.quote(scope)}")
    if audience != "connection-api":
        command += f" --audience {shlex.quote(audience)}"
    return ShellVariable("TOKEN", f"a genuine token of the national token service for client "
                         f"{client_id} (scope {scope or 'none'!s}, audience {audience})", command)


def curl_command(method: str, url: str, headers: dict[str, str] | None = None,
                 body: Any = None, tls: TlsMaterial | None = None) -> str:
    """A copy-pasteable reproduction. TLS files are "$CA_BUNDLE", "$CLIENT_CERT" and
    "$CLIENT_KEY" (``tls_variables``), never a path on this disk; an ``Authorization`` value of
    exactly ``Bearer $TOKEN`` stays a shell variable; other credentials are redacted by Evidence
    at construction unless declared ``shown`` there."""
    parts = [shlex.join(["curl", "-sS", "-X", method.upper()])]
    if tls is not None:
        if tls.ca_bundle:
            parts.append('--cacert "$CA_BUNDLE"')
        if tls.client_cert and tls.client_key:
            parts.append('--cert "$CLIENT_CERT" --key "$CLIENT_KEY"')
    for name, value in (headers or {}).items():
        if name.lower() == "authorization" and value == "Bearer $TOKEN":
            parts.append(f'-H "{name}: Bearer $TOKEN"')
        else:
            parts.append(shlex.join(["-H", f"{name}: {value}"]))
    if body is not None:
        parts.append(shlex.join(["--data-binary",
                                 body if isinstance(body, str) else json.dumps(body)]))
    parts.append(shlex.quote(url))
    return " ".join(parts)
