"""A bounded TCP connect scan of the SUT's in-scope addresses: what the host really exposes.

Only addresses the run's scope allows are probed (the rest are refused before any packet); probes
are rate-limited, run at bounded concurrency, time out one by one and stop at a total deadline.
Every probe's outcome is kept, so the evidence says exactly what was and was not tried.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from harness.net import ScopeGuard

OPEN, CLOSED, FILTERED, UNREACHABLE, NOT_PROBED = "open", "closed", "filtered", "unreachable", "not probed"
MAX_ADDRESSES = 16  # a SUT is a few hosts; more is a config mistake, not a scan target list


@dataclass(frozen=True)
class ScanSettings:
    rate_per_s: float = 500.0
    concurrency: int = 128
    connect_timeout_s: float = 1.0
    deadline_s: float = 60.0


@dataclass(frozen=True)
class Probe:
    address: str
    port: int
    state: str
    elapsed_ms: float | None = None


@dataclass(frozen=True)
class ScanResult:
    probes: tuple[Probe, ...]
    refused: tuple[str, ...]  # addresses out of scope: never probed
    duration_s: float
    settings: ScanSettings

    def open_ports(self) -> list[Probe]:
        return [p for p in self.probes if p.state == OPEN]

    @property
    def unfinished(self) -> int:
        return sum(p.state == NOT_PROBED for p in self.probes)

    def record(self) -> list[list[Any]]:
        """Every probe, as runs of consecutive ports with one outcome: [address, first, last, state]
        (open ports are always their own run, with the connect time in ms)."""
        runs: list[list[Any]] = []
        for p in sorted(self.probes, key=lambda x: (x.address, x.port)):
            last = runs[-1] if runs else None
            if (p.state != OPEN and last is not None and last[0] == p.address and last[3] == p.state
                    and last[2] == p.port - 1):
                last[2] = p.port
            else:
                runs.append([p.address, p.port, p.port, p.state]
                            + ([round(p.elapsed_ms or 0.0, 2)] if p.state == OPEN else []))
        return runs


def source_address(address: str) -> str | None:
    """The address this host would send from to reach `address` (a UDP connect sends nothing)."""
    family = socket.AF_INET6 if ipaddress.ip_address(address).version == 6 else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            sock.connect((address, 9))
            return str(sock.getsockname()[0]).split("%")[0]
    except OSError:
        return None


def scan(addresses: Iterable[str], ports: Sequence[int], scope: ScopeGuard,
         settings: ScanSettings = ScanSettings()) -> ScanResult:
    """Probe every (in-scope address, port); never raises for what the network does."""
    wanted = list(dict.fromkeys(addresses))
    allowed = [a for a in wanted if scope.allows(a)][:MAX_ADDRESSES]
    refused = tuple(a for a in wanted if a not in allowed)
    targets = [(a, p) for a in allowed for p in ports if 1 <= p <= 65535]
    outcome: dict[tuple[str, int], Probe] = {}
    start = time.monotonic()
    # A fresh event loop in its own thread: the check may run inside a loop-owning thread.
    worker = threading.Thread(target=lambda: asyncio.run(_scan(targets, settings, outcome)),
                              name="popcert-fw-scan", daemon=True)
    worker.start()
    worker.join(settings.deadline_s + settings.connect_timeout_s + 5)
    probes = tuple(outcome.get(t, Probe(t[0], t[1], NOT_PROBED)) for t in targets)
    return ScanResult(probes, refused, time.monotonic() - start, settings)


async def _scan(targets: list[tuple[str, int]], settings: ScanSettings,
                outcome: dict[tuple[str, int], Probe]) -> None:
    gate = asyncio.Semaphore(settings.concurrency)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    interval = 1.0 / settings.rate_per_s

    async def probe(i: int, address: str, port: int) -> None:
        delay = t0 + i * interval - loop.time()  # the rate limit: probe i starts no sooner
        if delay > 0:
            await asyncio.sleep(delay)
        async with gate:
            outcome[(address, port)] = await _connect(address, port, settings.connect_timeout_s)

    tasks = [asyncio.create_task(probe(i, a, p)) for i, (a, p) in enumerate(targets)]
    if not tasks:
        return
    _done, pending = await asyncio.wait(tasks, timeout=settings.deadline_s)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)


async def _connect(address: str, port: int, timeout_s: float) -> Probe:
    started = time.perf_counter()
    writer = None
    try:
        _reader, writer = await asyncio.wait_for(asyncio.open_connection(address, port), timeout_s)
        return Probe(address, port, OPEN, (time.perf_counter() - started) * 1000)
    except ConnectionRefusedError:
        return Probe(address, port, CLOSED)
    except TimeoutError:
        return Probe(address, port, FILTERED)
    except OSError:
        return Probe(address, port, UNREACHABLE)
    finally:
        if writer is not None:
            writer.close()  # connect and leave: no byte is sent to the service
