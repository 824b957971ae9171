"""Background worker: takes stored dossiers to the NPDB and records the outcome.

POST /dossiers only stores the dossier and wakes this worker, so submission stays fast under load and
an NPDB outage never loses a dossier: it is kept as ``pending_npdb`` and retried with backoff.
"""

from __future__ import annotations

import asyncio
import logging
import time

from popcert_city.defects import active
from popcert_city.npdb_client import NpdbClient, NpdbRejected, NpdbUnavailable
from popcert_city.processing import decide
from popcert_city.store import DossierRecord, DossierStore

log = logging.getLogger("city.worker")
POLL_S = 0.5
MAX_POSTPONE_S = 30.0
REJECTED_POSTPONE_S = 60.0  # the NPDB refused us (our bug or config): retry rarely, keep the dossier


def postpone_delay(attempts: int, retry_after_s: float | None) -> float:
    backoff = min(MAX_POSTPONE_S, 2.0 ** attempts)
    return max(backoff, retry_after_s or 0.0)


class Worker:
    def __init__(self, store: DossierStore, client: NpdbClient, concurrency: int = 8) -> None:
        self.store = store
        self.client = client
        self.concurrency = concurrency
        self._wake = asyncio.Event()
        self._running: set[asyncio.Task[None]] = set()
        self._stopping = False

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        while not self._stopping:
            free = self.concurrency - len(self._running)
            if free > 0:
                for record in self.store.claim_due(time.time(), free):
                    task = asyncio.create_task(self._process(record))
                    self._running.add(task)
                    task.add_done_callback(self._running.discard)
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), POLL_S)
            except TimeoutError:
                pass

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        for task in list(self._running):
            task.cancel()
        await asyncio.gather(*self._running, return_exceptions=True)

    async def _process(self, record: DossierRecord) -> None:
        try:
            decision = await decide(self.client, record.procedure_code, record.applicant, record.details)
        except NpdbUnavailable as exc:
            self._failed(record, postpone_delay(record.attempts, exc.retry_after_s), "waiting for the NPDB")
        except NpdbRejected as exc:
            log.warning("NPDB refused dossier %s: %s", record.dossier_id, exc.status)
            self._failed(record, REJECTED_POSTPONE_S, "the NPDB refused the request; will retry")
        except asyncio.CancelledError:
            raise
        except Exception:  # a bug in a rule must not lose the dossier either
            log.exception("processing dossier %s failed", record.dossier_id)
            self._failed(record, REJECTED_POSTPONE_S, "processing error; will retry")
        else:
            outcome: str | None = decision.outcome
            if decision.status == "completed" and active("scenario.completed_without_outcome"):
                outcome = None  # the status says completed, the dossier never says approved
            self.store.finish(record.dossier_id, decision.status, outcome, decision.reasons)
        finally:
            self._wake.set()  # a slot is free

    def _failed(self, record: DossierRecord, delay_s: float, reason: str) -> None:
        if active("npdb.loses_dossier_on_failure"):
            self.store.delete(record.dossier_id)
            return
        self.store.postpone(record.dossier_id, time.time() + delay_s, reason)
