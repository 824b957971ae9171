"""Python client of the mock's admin API, used by the harness and the tests.

``AdminClient(url, run_id=...)`` (or ``admin.for_run(run_id)``) sends the run id on every call, so
the mock answers in that run's namespace: its people, fault rules, audit window, deliveries.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel


class AuditEntry(BaseModel):
    id: int
    ts: float
    client_id: str | None = None
    method: str
    endpoint: str
    path: str
    purpose_code: str | None = None
    request_id: str | None = None
    personal_ids: list[str] = []
    fields_requested: list[str] = []
    fields_returned: list[str] = []
    status: int
    latency_ms: float
    auth_method: str | None = None
    run_id: str | None = None


RUN_HEADER = "X-Popcert-Run"


class AdminClient:
    def __init__(self, admin_url: str, timeout_s: float = 30.0, run_id: str | None = None,
                 http: httpx.Client | None = None) -> None:
        self.admin_url = admin_url.rstrip("/")
        self.run_id = run_id
        self._owns_http = http is None
        self._http = http or httpx.Client(base_url=self.admin_url, timeout=timeout_s,
                                          trust_env=False)

    def for_run(self, run_id: str) -> AdminClient:
        """The same mock, in ``run_id``'s namespace (shares this client's connections)."""
        return AdminClient(self.admin_url, run_id=run_id, http=self._http)

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def _json(self, method: str, path: str, **kw: Any) -> Any:
        if self.run_id is not None:
            kw["headers"] = {**kw.get("headers", {}), RUN_HEADER: self.run_id}
        resp = self._http.request(method, path, **kw)
        resp.raise_for_status()
        return resp.json()

    def health(self) -> dict[str, Any]:
        return self._json("GET", "/admin/health")  # type: ignore[no-any-return]

    def audit(self, since_id: int = 0, client_id: str | None = None,
              request_id: str | None = None) -> list[AuditEntry]:
        params = {k: v for k, v in {"since_id": since_id, "client_id": client_id,
                                    "request_id": request_id}.items() if v is not None}
        raw = self._json("GET", "/admin/audit", params=params)["entries"]
        return [AuditEntry.model_validate(e) for e in raw]

    def audit_mark(self) -> int:
        """Last audit id now: pass it as ``since_id`` to see only what a step caused."""
        return int(self._json("GET", "/admin/audit/mark")["last_id"])

    def inject(self, endpoint: str = "*", kind: str = "status", probability: float = 1.0,
               count: int | None = None, latency_ms: int = 0, status: int = 503,
               retry_after_s: int = 1, personal_ids: list[str] | None = None) -> int:
        """A fault rule; with a run id it fires only on calls about the run's people (narrowed
        to ``personal_ids`` when given)."""
        body = {"endpoint": endpoint, "kind": kind, "probability": probability, "count": count,
                "latency_ms": latency_ms, "status": status, "retry_after_s": retry_after_s,
                "personal_ids": personal_ids}
        return int(self._json("POST", "/admin/faults", json=body)["id"])

    def faults(self) -> list[dict[str, Any]]:
        return self._json("GET", "/admin/faults")["faults"]  # type: ignore[no-any-return]

    def clear_faults(self) -> None:
        self._json("DELETE", "/admin/faults")

    def notify(self, type: str, personal_id: str, **extra: Any) -> dict[str, Any]:
        """Emit a change event to every subscriber; returns the event and its deliveries."""
        return self._json("POST", "/admin/notifications",  # type: ignore[no-any-return]
                          json={"type": type, "personal_id": personal_id, **extra})

    def sign(self, subscription_id: str, body: bytes, timestamp: int | None = None) -> str:
        """The X-NPDB-Signature the mock would send for ``body`` to one subscriber at ``timestamp``."""
        return str(self._json("POST", f"/admin/subscriptions/{subscription_id}/sign",
                              json={"body": body.decode(), "timestamp": timestamp})
                   ["signature_header"])

    def deliveries(self) -> list[dict[str, Any]]:
        return self._json("GET", "/admin/deliveries")["deliveries"]  # type: ignore[no-any-return]

    @contextmanager
    def lease(self, mode: str, wait_s: float = 600.0, ttl_s: float = 120.0) -> Iterator[None]:
        """Hold the mock for one step: ``exclusive`` while it injects faults, else ``shared``
        (needs a run id). Raises TimeoutError if another run holds it for ``wait_s``."""
        deadline = time.monotonic() + wait_s
        while True:
            resp = self._http.post("/admin/lease", json={"mode": mode, "ttl_s": ttl_s},
                                   headers={RUN_HEADER: self.run_id or ""})
            if resp.status_code == 404:  # a mock without leases: nothing to hold
                yield
                return
            if resp.status_code != 409:
                resp.raise_for_status()
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"another run held the mock NPDB for {wait_s:g} s")
            time.sleep(0.2)
        lease_id = int(resp.json()["lease_id"])
        try:
            yield
        finally:
            try:
                self._http.delete(f"/admin/lease/{lease_id}")
            except httpx.HTTPError:
                pass  # it expires by itself

    def trust_ca(self, ca_pem: str | Path) -> int:
        """Have the mock trust this CA (PEM text or a file) when it delivers notifications."""
        pem = Path(ca_pem).read_text(encoding="utf-8") if isinstance(ca_pem, Path) else ca_pem
        return int(self._json("POST", "/admin/trust", json={"ca_pem": pem})["trusted_extra_cas"])

    def sample(self, kind: str = "adult", n: int = 1, seed: int = 0) -> list[dict[str, Any]]:
        """Records of ``n`` citizens of a kind (adult, married_couple, child_with_parents, ...).
        With a run id: people no other run holds and no change touched, claimed for this run."""
        return self._json("GET", "/admin/population/sample",  # type: ignore[no-any-return]
                          params={"kind": kind, "n": n, "seed": seed})["records"]

    def reset(self) -> None:
        self._json("POST", "/admin/reset")

    def rotate_keys(self) -> str:
        return str(self._json("POST", "/admin/keys/rotate")["kid"])

    def set_rate_limit(self, per_s: float, client_id: str | None = None) -> None:
        self._json("POST", "/admin/rate_limit", json={"per_s": per_s, "client_id": client_id})
