"""Benchmark: the conformance suite on the reference system, and schemathesis's request rate.

Prints (1) the wall time of the whole conformance suite context (fuzz run + spec drift) and its
request count; (2) requests/s schemathesis sustained, against a plain httpx loop replaying the
same number of requests (GET /dossiers/{id} and POST /dossiers, same TLS, same token) in the same
run, and their ratio. Bounded: quick budget by default, ``--examples N`` to change it.

    .venv/bin/python bench/conformance.py [--examples 10] [--population 100000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import httpx

from harness.config import config_from_dict
from harness.net import ScopeGuard
from harness.profiles import load_profile
from harness.registry import default_registry
from harness.run_context import RunContext
from harness.suites.conformance.context import make_context
from popcert_npdb.pki import IssuedCert


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--examples", type=int, default=10)
    parser.add_argument("--population", type=int, default=100_000)
    args = parser.parse_args()
    from popcert_city.launcher import CitySystem
    from popcert_npdb.launcher import MockNPDB

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        with MockNPDB(tmp / "npdb", population=args.population, seed=6) as npdb, \
                CitySystem(npdb, tmp / "city", rate_per_s=100_000.0, rate_burst=100_000) as city:
            # The per-client rate limit is lifted: both sides must measure the server, not 429s.
            portal = npdb.pki.issue("portal-bench", kind="client")
            config = config_from_dict({
                "system": {"name": "bench", "organisation": "popcert", "level": "province"},
                "target": {"base_url": city.base_url, "ca_bundle": str(city.ca_path),
                           "client_cert": str(portal.cert_path),
                           "client_key": str(portal.key_path)},
                "npdb": {"start": False, "state_dir": str(npdb.state_dir)}, "seed": 1}, tmp)
            profile = load_profile("province")
            profile.thresholds.setdefault("conformance", {})["max_examples"] = args.examples
            run = RunContext(config, profile, tmp, ScopeGuard(["127.0.0.1", "localhost"]),
                             tmp / "work", npdb=npdb, quick=False, seed=1)
            started = time.monotonic()
            factory = make_context(run)
            context = next(factory)
            statuses = {c.id: str(c.function(context).status)
                        for c in default_registry().for_suite("conformance")}
            suite_s = time.monotonic() - started
            factory.close()
            outcome = context.outcome
            st_rps = outcome.requests / outcome.duration_s
            httpx_s, statuses_seen = plain_loop(city.base_url, city.ca_path, portal, outcome.requests,
                                 run.portal().token(lifetime_s=600))
            httpx_rps = outcome.requests / httpx_s
    print(f"conformance suite: {suite_s:.1f} s wall, {outcome.requests} requests, "
          f"{outcome.operations_tested} operations, max_examples={args.examples}")
    print(f"  results: {statuses}")
    print(f"schemathesis: {st_rps:.0f} req/s over {outcome.duration_s:.1f} s (incl. start-up)")
    print(f"plain httpx loop: {httpx_rps:.0f} req/s over {httpx_s:.1f} s, statuses {statuses_seen}")
    print(f"ratio schemathesis / httpx: {st_rps / httpx_rps:.2f}")


def plain_loop(base_url: str, ca_path: Path, portal: IssuedCert, count: int,
               token: str) -> tuple[float, dict[int, int]]:
    """The same number of requests, alternating a create and a read, over one keep-alive client."""
    headers = {"Authorization": f"Bearer {token}"}
    body = {"procedure_code": "1.011451",
            "applicant": {"personal_id": "001190123456", "full_name": "Trần Thị Bình",
                          "date_of_birth": "1990-05-17"},
            "details": {"child": {"personal_id": "001224123456", "full_name": "Nguyễn Minh Khôi",
                                  "date_of_birth": "2022-03-02"}}}
    cert = (str(portal.cert_path), str(portal.key_path))
    with httpx.Client(verify=str(ca_path), cert=cert, timeout=10) as client:
        started = time.monotonic()
        dossier_id = "00000000-0000-4000-8000-000000000000"
        seen: dict[int, int] = {}
        for i in range(count):
            if i % 2 == 0:
                response = client.post(f"{base_url}/connection/v1/dossiers", json=body,
                                       headers=headers)
                if response.status_code == 201:
                    dossier_id = response.json()["dossier_id"]
            else:
                response = client.get(f"{base_url}/connection/v1/dossiers/{dossier_id}",
                                      headers=headers)
            seen[response.status_code] = seen.get(response.status_code, 0) + 1
        return time.monotonic() - started, seen


if __name__ == "__main__":
    main()
