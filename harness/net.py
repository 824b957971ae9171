"""Scope-safe HTTP for every suite: traffic only to declared hosts, bounded bodies, no exceptions.

A hostile SUT may hang, reset, send garbage or gigabytes, or redirect elsewhere; ``SafeClient``
turns each of those into an ``Exchange`` with ``.error`` set, so a check can report ``error``
with evidence instead of crashing the run.
"""

from __future__ import annotations

import ipaddress
import json
import shlex
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from harness.checks import Evidence
from harness.errors import OutOfScopeError

MAX_RESPONSE_BYTES = 1_048_576


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
        except (ValueError, UnicodeDecodeError):
            return None

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    def evidence(self) -> tuple[Evidence, ...]:
        body: Any = self.text + (" [truncated]" if self.truncated else "")
        response = Evidence.response(self.status, self.headers, body, self.elapsed_ms)
        if self.error:
            response = Evidence.response(None, {}, f"no usable response: {self.error}",
                                         self.elapsed_ms)
        return (Evidence.request(self.method, self.url, self.request_headers, self.request_body),
                response)


@dataclass(frozen=True)
class TlsMaterial:
    ca_bundle: Path | None = None
    client_cert: Path | None = None
    client_key: Path | None = None
    verify: bool = True

    def httpx_verify(self) -> Any:
        if not self.verify:
            return False
        return str(self.ca_bundle) if self.ca_bundle else True

    def httpx_cert(self) -> Any:
        if self.client_cert and self.client_key:
            return (str(self.client_cert), str(self.client_key))
        return None


class SafeClient:
    """httpx with scope checks on every hop, a total deadline and a body-size bound."""

    def __init__(self, scope: ScopeGuard, tls: TlsMaterial | None = None,
                 timeout_s: float = 10.0, max_bytes: int = MAX_RESPONSE_BYTES) -> None:
        self.scope = scope
        self.tls = tls or TlsMaterial()
        self.timeout_s = timeout_s
        self.max_bytes = max_bytes
        import ssl
        context: Any = self.tls.httpx_verify()
        if context is not False:
            context = ssl.create_default_context(cafile=str(self.tls.ca_bundle)) \
                if self.tls.ca_bundle else ssl.create_default_context()
            cert = self.tls.httpx_cert()
            if cert:
                context.load_cert_chain(*cert)
        self._client = httpx.Client(verify=context, timeout=timeout_s, follow_redirects=False)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> SafeClient:
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
        try:
            for _hop in range(follow_redirects + 1):
                with self._client.stream(method, url, headers=headers, json=json_body,
                                         content=content, params=params) as response:
                    exchange.status = response.status_code
                    exchange.headers = {k.lower(): v for k, v in response.headers.items()}
                    exchange.body, exchange.truncated = self._read_bounded(response, started)
                location = exchange.headers.get("location")
                if not (response.is_redirect and location and _hop < follow_redirects):
                    break
                url = str(response.url.join(location))
                self.scope.check_url(url)  # a redirect to another host is refused, not followed
                exchange.url = url
        except OutOfScopeError as refused:
            exchange.error = f"redirect refused by scope: {refused}"
        except (httpx.HTTPError, OSError, ValueError) as failure:
            exchange.error = f"{type(failure).__name__}: {failure}"
        exchange.elapsed_ms = round((time.monotonic() - started) * 1000, 1)
        return exchange

    def _read_bounded(self, response: httpx.Response, started: float) -> tuple[bytes, bool]:
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            chunks.append(chunk)
            size += len(chunk)
            if size > self.max_bytes:
                return b"".join(chunks)[: self.max_bytes], True
            # A server trickling bytes forever must not hold the run: total deadline per request.
            if time.monotonic() - started > self.timeout_s * 3:
                raise httpx.ReadTimeout("response body exceeded the total time limit")
        return b"".join(chunks), False


def curl_command(method: str, url: str, headers: dict[str, str] | None = None,
                 body: Any = None, tls: TlsMaterial | None = None) -> str:
    """A copy-pasteable reproduction; credentials are redacted by Evidence at construction."""
    parts = ["curl", "-sS", "-X", method.upper()]
    if tls is not None:
        if tls.ca_bundle:
            parts += ["--cacert", str(tls.ca_bundle)]
        if tls.client_cert and tls.client_key:
            parts += ["--cert", str(tls.client_cert), "--key", str(tls.client_key)]
    for name, value in (headers or {}).items():
        parts += ["-H", f"{name}: {value}"]
    if body is not None:
        parts += ["--data-binary", body if isinstance(body, str) else json.dumps(body)]
    parts.append(url)
    return shlex.join(parts)
