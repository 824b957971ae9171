"""Stock locust, closed loop, for bench/load_accuracy.py: FastHttpUser paced by locust's own
``constant_throughput`` and measured the way locust measures (from the actual send), to show
what coordinated omission hides. Rate per user and path come from the environment."""

from __future__ import annotations

import os

from locust import FastHttpUser, constant_throughput, task


class ClosedLoopProbe(FastHttpUser):
    wait_time = constant_throughput(float(os.environ.get("BENCH_USER_RPS", "1")))

    @task
    def dossiers(self) -> None:
        self.client.get(os.environ.get("BENCH_PATH", "/connection/v1/dossiers?limit=20"))
