"""Minimal locustfile for bench/load_driver.py: one GET with no think time, to measure the driver."""

from __future__ import annotations

from locust import FastHttpUser, task


class DriverProbe(FastHttpUser):
    @task
    def ping(self) -> None:
        self.client.get("/health")
