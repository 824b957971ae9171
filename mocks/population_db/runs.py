"""Run namespaces: several certification runs share one mock without seeing each other.

A run names itself on every admin call (header ``X-Popcert-Run``). People sampled for a run are
*claimed* by it, with their families: no other run is given them, and no run is given a person
whose record a change (death, move, birth) already altered. Audit entries about a run's people
carry its run id, and fault rules injected by a run fire only on calls about its people.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

from popcert_npdb.population import Citizen, Population

RUN_HEADER = "x-popcert-run"
RUN_ID = re.compile(r"[A-Za-z0-9._:/@-]{1,200}")


def valid_run_id(run_id: str | None) -> str | None:
    """The run id of a header value, None when absent; ValueError when malformed."""
    if run_id is None or run_id == "":
        return None
    if RUN_ID.fullmatch(run_id) is None:
        raise ValueError("X-Popcert-Run must be 1-200 characters of A-Z a-z 0-9 . _ : / @ -")
    return run_id


class RunRegistry:
    """personal_id -> the run that holds it (in memory, like the population's overlay)."""

    def __init__(self, population: Population) -> None:
        self.population = population
        self.claims: dict[str, str] = {}

    def family(self, citizen: Citizen) -> set[str]:
        """The people a scenario about ``citizen`` may touch: its household, its parents', its
        spouse's (a birth joins the mother's household; a household lookup lists everyone)."""
        people = {citizen.personal_id}
        households = {citizen.household_id}
        for relative_id in (citizen.father_id, citizen.mother_id, citizen.spouse_id):
            relative = self.population.by_personal_id(relative_id) if relative_id else None
            if relative is not None:
                people.add(relative.personal_id)
                households.add(relative.household_id)
        for household_id in households:
            household = self.population.household(household_id)
            if household is not None:
                people.update(pid for pid, _ in household.members)
        return people

    def _changed(self, people: Iterable[str]) -> bool:
        overlay = self.population.overlay
        return any(pid in overlay.deaths or pid in overlay.moves or pid in overlay.births
                   for pid in people)

    def draw(self, run_id: str, candidates: Iterator[Citizen], n: int) -> list[Citizen]:
        """The first ``n`` candidates that no other run holds and no change has touched (people
        this run already holds stay available to it), claimed for ``run_id``."""
        found: list[Citizen] = []
        for citizen in candidates:
            if len(found) >= n:
                break
            people = self.family(citizen)
            mine = {pid for pid in people if self.claims.get(pid) == run_id}
            if any(self.claims.get(pid, run_id) != run_id for pid in people):
                continue
            if self._changed(people - mine):
                continue
            for pid in people:
                self.claims[pid] = run_id
            found.append(citizen)
        return found

    def run_of(self, personal_ids: Iterable[str] | None) -> str | None:
        """The run holding any of these people (an audit entry's owner), else None."""
        if not self.claims or not personal_ids:
            return None
        for pid in personal_ids:
            run_id = self.claims.get(pid)
            if run_id is not None:
                return run_id
        return None

    def holds(self, run_id: str, personal_ids: Iterable[str]) -> bool:
        return any(self.claims.get(pid) == run_id for pid in personal_ids)

    def claim(self, run_id: str, personal_ids: Iterable[str]) -> None:
        """Newborns registered by a run belong to it."""
        for pid in personal_ids:
            self.claims.setdefault(pid, run_id)


class Leases:
    """Who may perturb the shared NPDB now. A step that injects faults takes an *exclusive*
    lease, every other step a *shared* one: a fault one run injects trips the SUT's own
    NPDB-wide defences (its circuit breaker, its retry backoff), which no namespace in the mock
    can confine, so no other run's step may run while it is active. A waiting exclusive request
    holds back new shared leases (no starvation); leases expire (a killed run frees the mock)."""

    WAIT_FORGET_S = 3.0  # a waiting run that stopped asking is no longer waiting

    def __init__(self, clock: Any = None) -> None:
        import itertools
        import time

        self._clock = clock or time.monotonic
        self._ids = itertools.count(1)
        self.held: dict[int, tuple[str, str, float]] = {}  # lease id -> (run, mode, expires)
        self.waiting: dict[str, float] = {}  # run -> last time it asked for an exclusive lease

    def _purge(self, now: float) -> None:
        for lease_id, (_, _, expires) in list(self.held.items()):
            if expires <= now:
                del self.held[lease_id]
        for run_id, asked in list(self.waiting.items()):
            if now - asked > self.WAIT_FORGET_S:
                del self.waiting[run_id]

    def acquire(self, run_id: str, mode: str, ttl_s: float) -> int | None:
        """A lease id, or None: ask again shortly."""
        now = self._clock()
        self._purge(now)
        others = [(run, held_mode) for run, held_mode, _ in self.held.values() if run != run_id]
        if mode == "exclusive":
            if others:
                self.waiting[run_id] = now
                return None
            self.waiting.pop(run_id, None)
        elif any(held_mode == "exclusive" for _, held_mode in others) \
                or any(run != run_id for run in self.waiting):
            return None
        lease_id = next(self._ids)
        self.held[lease_id] = (run_id, mode, now + ttl_s)
        return lease_id

    def release(self, lease_id: int) -> None:
        self.held.pop(lease_id, None)
