"""Stock locust doing popcert's portal mix, for bench/load_driver.py: a plain FastHttpUser with
the same tasks, weights, headers and dossier bodies as load/locustfile.py (from the same plan), but
closed loop and none of popcert's machinery (timetable, lanes, bounded bodies, corrected
latency). Separates what the traffic costs from what popcert's driver adds."""

from __future__ import annotations

import itertools
import json
import os
import random
import uuid

from locust import FastHttpUser, task

with open(os.environ["POPCERT_LOAD_PLAN"], encoding="utf-8") as _plan:
    _PLAN = json.load(_plan)
_BODIES = [json.dumps(d, ensure_ascii=False).encode() for d in _PLAN["dossiers"]]
_BASE = "/connection/v1"
# Request ids as load/locustfile.py makes them (a UUID per process, a counter in its last 48 bits),
# so that the baseline is not charged a uuid4() system call per request that popcert does not pay.
_ID_STEM = str(uuid.uuid4())[:24]
_ids = itertools.count()


class StockPortalMix(FastHttpUser):
    def on_start(self) -> None:
        self.dossier_ids: list[str] = []
        self.base_headers = {"Authorization": f"Bearer {_PLAN['tokens'][0]}",
                             "Accept": "application/json", "Accept-Encoding": "identity"}

    def _headers(self) -> dict[str, str]:
        return {**self.base_headers, "X-Request-Id": f"{_ID_STEM}{next(_ids) & 0xFFFFFFFFFFFF:012x}"}

    @task(3)
    def submit(self) -> None:
        headers = self._headers()
        headers.update({"Idempotency-Key": headers["X-Request-Id"],
                        "Content-Type": "application/json"})
        response = self.client.post(f"{_BASE}/dossiers", data=random.choice(_BODIES),
                                    headers=headers, name=f"POST {_BASE}/dossiers")
        try:
            self.dossier_ids.append(response.json()["dossier_id"])
        except (ValueError, KeyError, TypeError):
            return
        del self.dossier_ids[:-50]

    @task(5)
    def poll(self) -> None:
        if not self.dossier_ids:
            self.submit()
            return
        self.client.get(f"{_BASE}/dossiers/{random.choice(self.dossier_ids)}",
                        headers=self._headers(), name=f"GET {_BASE}/dossiers/{{dossier_id}}")

    @task(2)
    def list_dossiers(self) -> None:
        self.client.get(f"{_BASE}/dossiers?limit=20", headers=self._headers(),
                        name=f"GET {_BASE}/dossiers")
