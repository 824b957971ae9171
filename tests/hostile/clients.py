"""The three HTTP adapters of harness/hostile, each driven as popcert drives it, in a process
of its own (the guard and gevent patch their process): ``python -m tests.hostile.clients
ADAPTER CASES.json`` prints one JSON outcome per case.

- ``httpx``: ``SafeClient`` (harness/net.py), as every suite uses it;
- ``requests``: requests with the schemathesis guard loaded (harness/suites/conformance/guard.py);
- ``gevent``: geventhttpclient under gevent, as load/locustfile.py reads a response
  (harness/suites/load/body.py and sockets.py, the request deadline as a ``gevent.Timeout``).

Each outcome is normalised to what a check would conclude: ``body <len> <sha256[:12]>``,
``too-large``, ``refused-coding`` (too many codings, a corrupt stream, or one popcert cannot
decode: SafeClient and the guard keep such bytes raw as evidence, locust refuses them) or
``no-answer`` (deadline, TLS or protocol failure), with ``elapsed_s`` and the adapter's message.
CASES.json: ``[{"name", "url", "ca"}]``. Deadline 3 s, socket timeout 2 s for every adapter.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

DEADLINE_S = 3.0
TIMEOUT_S = 2.0


def body_outcome(body: bytes) -> str:
    return f"body {len(body)} {hashlib.sha256(body).hexdigest()[:12]}"


def classify_message(message: str) -> str:
    lowered = message.lower()
    if "over 1048576 bytes" in lowered:
        return "too-large"
    if any(word in lowered for word in ("coding", "deflate", "gzip", "br stream", "decod")):
        return "refused-coding"
    return "no-answer"


def httpx_adapter() -> Callable[[dict[str, Any]], tuple[str, str]]:
    from harness.hostile import decode
    from harness.net import SafeClient, ScopeGuard, TlsMaterial

    def fetch(case: dict[str, Any]) -> tuple[str, str]:
        tls = TlsMaterial(ca_bundle=case["ca"]) if case.get("ca") else None
        with SafeClient(ScopeGuard(["127.0.0.1"]), tls, timeout_s=TIMEOUT_S,
                        deadline_s=DEADLINE_S) as client:
            exchange = client.request("GET", case["url"])
        if exchange.error:
            return classify_message(exchange.error), exchange.error
        if exchange.truncated:
            return "too-large", "truncated at 1048576 bytes"
        encoding = exchange.headers.get("content-encoding", "")
        if encoding and not decode.decodable(decode.codings(encoding)):
            # Kept raw as evidence (docs/security-model.md), but no decoded body to judge.
            return "refused-coding", f"unknown coding {encoding!r} kept raw"
        return body_outcome(exchange.body), f"HTTP {exchange.status}"
    return fetch


def requests_adapter() -> Callable[[dict[str, Any]], tuple[str, str]]:
    os.environ["POPCERT_CONF_DEADLINE_S"] = str(DEADLINE_S)
    import requests

    import harness.suites.conformance.guard  # noqa: F401 - patches this process (the child)
    from harness.hostile import decode

    session = requests.Session()

    def fetch(case: dict[str, Any]) -> tuple[str, str]:
        try:
            response = session.get(case["url"], timeout=TIMEOUT_S, verify=case.get("ca") or True)
        except requests.RequestException as failure:
            return classify_message(str(failure)), f"{type(failure).__name__}: {failure}"
        encoding = response.headers.get("content-encoding", "")
        if encoding and not decode.decodable(decode.codings(encoding)):
            # urllib3's and SafeClient's habit: an unknown coding is kept raw, not refused.
            return "refused-coding", f"unknown coding {encoding!r} kept raw"
        return body_outcome(response.content), f"HTTP {response.status_code}"
    return fetch


def gevent_adapter() -> Callable[[dict[str, Any]], tuple[str, str]]:
    import gevent.monkey

    gevent.monkey.patch_all()
    import gevent
    import gevent.ssl
    from geventhttpclient import HTTPClient
    from geventhttpclient.url import URL

    from harness.suites.load.body import BodyRefused, decode_bounded, read_bounded
    from harness.suites.load.headers import bound_response_headers
    from harness.suites.load.sockets import CURRENT, bound_gevent_sockets

    bound_gevent_sockets(lambda: DEADLINE_S)
    bound_response_headers()

    def fetch(case: dict[str, Any]) -> tuple[str, str]:
        url = URL(case["url"])
        factory = None
        if case.get("ca"):
            def factory(cafile: str | None = None, **_: Any) -> Any:
                return gevent.ssl.create_default_context(cafile=case["ca"])
        client = HTTPClient.from_url(url, connection_timeout=TIMEOUT_S,
                                     network_timeout=TIMEOUT_S, ssl_context_factory=factory,
                                     concurrency=1)
        CURRENT.at = time.monotonic() + DEADLINE_S  # as the locustfile's _request does
        try:
            with gevent.Timeout(DEADLINE_S):
                response = client.request("GET", url.request_uri,
                                          headers={"Accept-Encoding": "identity"})
                raw = read_bounded(response)
                body = decode_bounded(raw, response.get("content-encoding"))
            return body_outcome(body), f"HTTP {response.status_code}"
        except BodyRefused as refused:
            kind = "too-large" if "over 1048576" in str(refused) else "refused-coding"
            return kind, f"{type(refused).__name__}: {refused}"
        except gevent.Timeout:
            return "no-answer", f"no complete answer within the {DEADLINE_S:g} s deadline"
        except Exception as failure:  # noqa: BLE001 - the locustfile reports these as failures
            return "no-answer", f"{type(failure).__name__}: {failure}"
        finally:
            CURRENT.at = None
            client.close()
    return fetch


ADAPTERS = {"httpx": httpx_adapter, "requests": requests_adapter, "gevent": gevent_adapter}


def main(adapter: str, cases_path: str) -> None:
    fetch = ADAPTERS[adapter]()
    with open(cases_path, encoding="utf-8") as cases_file:
        cases = json.load(cases_file)
    for case in cases:
        started = time.monotonic()
        outcome, message = fetch(case)
        print(json.dumps({"name": case["name"], "outcome": outcome, "message": message[:300],
                          "elapsed_s": round(time.monotonic() - started, 2)}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
