"""Portal traffic on the connection API (docs/interfaces.md §4), for locust.

Everything this file needs comes from a *load plan* JSON file named by ``POPCERT_LOAD_PLAN``,
written by ``harness.suites.load_plan``: bearer tokens already minted (locust never holds the
token service's private key), TLS material, per-user pacing, the traffic mix and a pool of
dossier bodies built from the synthetic population. Run by the harness in a subprocess:

    POPCERT_LOAD_PLAN=plan.json python -m locust -f load/locustfile.py --headless ...
"""

from __future__ import annotations

import itertools
import json
import os
import random
import ssl
import uuid
from typing import Any

import gevent.ssl
from locust import FastHttpUser, constant_throughput, events, task
from locust.exception import StopUser

PLAN_ENV = "POPCERT_LOAD_PLAN"


def _read_plan() -> dict[str, Any]:
    path = os.environ.get(PLAN_ENV)
    if not path:
        # Lets `locust -f load/locustfile.py --help` and imports work without a plan.
        return {"tokens": [""], "dossiers": [], "user_rps": 1.0, "max_requests": 0,
                "weights": {"submit": 3, "poll": 5, "list": 2}, "base_path": "/connection/v1"}
    with open(path, encoding="utf-8") as plan_file:
        plan: dict[str, Any] = json.load(plan_file)
    return plan


PLAN = _read_plan()
BASE = str(PLAN.get("base_path", "/connection/v1")).rstrip("/")
WEIGHTS: dict[str, int] = PLAN.get("weights") or {"submit": 3, "poll": 5, "list": 2}
# Round-robin over the portal clients' tokens: the SUT rate-limits per client, and the portal
# really is several tenants.
_TOKENS = itertools.cycle(PLAN.get("tokens") or [""])
_DOSSIERS: list[dict[str, Any]] = PLAN.get("dossiers") or [
    {"procedure_code": "1.001193", "applicant": {}, "details": {}}]
# Per-process request bound (the harness divides the run's bound among worker processes).
_MAX_REQUESTS = int(PLAN.get("max_requests") or 0)
_sent = 0


def _ssl_context_factory(cafile: str | None = None, **_: Any) -> ssl.SSLContext:
    """TLS to the SUT: its private CA, and the portal's client certificate when mTLS is on."""
    context = gevent.ssl.create_default_context(cafile=PLAN.get("ca_bundle") or cafile)
    if PLAN.get("client_cert"):
        context.load_cert_chain(PLAN["client_cert"], PLAN.get("client_key"))
    return context


@events.request.add_listener
def _count_request(**_: Any) -> None:
    global _sent
    _sent += 1


class PortalUser(FastHttpUser):
    """One portal session: submits dossiers, polls their status, lists its own dossiers."""

    # Open-model pacing: each user aims at user_rps whatever the latency (up to 1/user_rps),
    # so a slow SUT shows up as latency, not as a lower offered rate.
    wait_time = constant_throughput(float(PLAN.get("user_rps", 1.0)))
    insecure = not PLAN.get("verify_tls", True)
    ssl_context_factory = staticmethod(_ssl_context_factory) if PLAN.get("verify_tls", True) else None
    network_timeout = float(PLAN.get("request_timeout_s", 10.0))
    connection_timeout = float(PLAN.get("request_timeout_s", 10.0))
    # One connection per user is what a portal worker holds; no client-side queuing.
    concurrency = 1

    def on_start(self) -> None:
        self.token = next(_TOKENS)
        self.rng = random.Random()
        self.dossier_ids: list[str] = []
        self._warm_up()

    def _warm_up(self) -> None:
        """Open the user's keep-alive (TLS) connection outside the statistics.

        A portal holds persistent connections; 20 simultaneous handshakes at spawn would
        otherwise dominate the p95 of a short run and hide what the thresholds are about.
        """
        try:
            self.client.client.urlopen(f"{self.host.rstrip('/')}{BASE}/health", method="GET")
        except Exception:  # noqa: BLE001 - the measured requests will report the failure
            pass

    def _headers(self, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", "Accept": "application/json",
                "X-Request-Id": str(uuid.uuid4()), **extra}

    def _within_bound(self) -> None:
        if _MAX_REQUESTS and _sent >= _MAX_REQUESTS:
            raise StopUser()

    @task(WEIGHTS.get("submit", 3))
    def submit_dossier(self) -> None:
        self._within_bound()
        body = self.rng.choice(_DOSSIERS)
        with self.client.post(f"{BASE}/dossiers", json=body, catch_response=True,
                              headers=self._headers(**{"Idempotency-Key": uuid.uuid4().hex}),
                              name=f"POST {BASE}/dossiers") as response:
            if response.status_code == 201:
                try:
                    self.dossier_ids.append(response.json()["dossier_id"])
                except (ValueError, KeyError, TypeError):
                    response.failure("201 without a dossier_id")
                    return
                del self.dossier_ids[:-50]  # a portal polls its recent dossiers
                response.success()
            else:
                response.failure(f"HTTP {response.status_code}")

    @task(WEIGHTS.get("poll", 5))
    def poll_status(self) -> None:
        if not self.dossier_ids:
            self.submit_dossier()
            return
        self._within_bound()
        dossier_id = self.rng.choice(self.dossier_ids)
        self.client.get(f"{BASE}/dossiers/{dossier_id}", headers=self._headers(),
                        name=f"GET {BASE}/dossiers/{{dossier_id}}")

    @task(WEIGHTS.get("list", 2))
    def list_dossiers(self) -> None:
        self._within_bound()
        self.client.get(f"{BASE}/dossiers?limit=20", headers=self._headers(),
                        name=f"GET {BASE}/dossiers")
