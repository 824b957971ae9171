"""AUTH check of the per-client rate limit: a bounded burst from one client is cut off with 429 and
a valid Retry-After, and while that client is being refused another client is still served (the
spec's 429 is "Per-client rate limit exceeded."). Listed in ``harness.suites.auth.suite.SUITE``.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parsedate_to_datetime

from harness.checks import CheckResult, Evidence, Severity, check
from harness.health import assess, health_evidence, inconclusive_result
from harness.health_monitor import HealthMonitor
from harness.suites.auth.context import AuthContext
from harness.suites.auth.probe import PORTAL_B, PORTAL_READONLY, Probe, said

RATE_MAX_REQUESTS = 400  # bounded burst; auth.rate_limit_max_requests in the profile overrides
RATE_WINDOW_S = 8.0  # auth.rate_limit_window_s
RATE_WORKERS = 8
RETRY_AFTER_MAX_S = 3600  # a longer wait is a lock-out, not a rate limit
# Once the burst is refused it goes on (bounded) while another client sends OTHER_PROBES paced
# reads: with one shared bucket the burst's workers take most tokens that come back (on a busy
# host, measured: 2 refusals in 5), so the other client is refused at least once in ten; with
# per-client buckets it is served each time. A refusal is then told apart from the other client's
# own limit: once the burst is over the same paced reads are sent again, and only when they are
# all served is the limit "not per client" (refused again: error, its own limit is too tight).
# The burst must still be running when the other client's last read goes out: a burst that ran
# out of requests first left the other client an idle shared bucket (a fast host sent its 200
# refused requests in 0.3 s and a global limit passed). So once refused it goes on paced at the
# rate that got it refused (above the limit's refill rate, or it would not have been), until
# the other client's reads are done or DURING_S, at most DURING_CAP requests; and a verdict that
# the limit is per client needs every one of the other client's reads sent while it still ran.
OTHER_PROBES = 10
OTHER_SPACING_S = 0.1
DURING_CAP = 1000
DURING_S = 8.0
CONTROL_TRIES = 3  # the other client must be served before the burst (it may be finishing a wait)
CONTROL_WAIT_MAX_S = 3.0


def retry_after_valid(value: str | None, now: datetime | None = None) -> bool:
    """RFC 9110 §10.2.3: delay-seconds or an HTTP-date, and a wait a client can honour."""
    if value is None:
        return False
    value = value.strip()
    if value.isascii() and value.isdigit():
        return int(value) <= RETRY_AFTER_MAX_S
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return False
    if when.tzinfo is None:
        return False
    reference = now or datetime.now(when.tzinfo)
    return (when - reference).total_seconds() <= RETRY_AFTER_MAX_S


def _served(probe: Probe) -> bool:
    status = probe.exchange.status
    return probe.exchange.error is None and status is not None and 200 <= status < 300


def _other_client_served_first(ctx: AuthContext, token: str) -> Probe:
    """The other client's read before the burst, after its own 429 waits (≤ 3 s each)."""
    probe = ctx.read("portal-b reading before the burst (control)", token)
    for _ in range(CONTROL_TRIES - 1):
        if probe.exchange.status != 429:
            break
        _wait_retry_after(probe)
        probe = ctx.read("portal-b reading before the burst (control)", token)
    return probe


@dataclass
class _Burst:
    """What the burst's workers share (under ``lock``)."""

    budget: int
    deadline: float
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)
    limited: threading.Event = field(default_factory=threading.Event)
    started: float = field(default_factory=time.monotonic)
    interval_s: float = 0.0  # once refused: the pace, one request per interval across workers
    next_at: float = 0.0
    sent: int = 0
    ended_at: float | None = None  # when it ran out (budget or deadline) before being stopped
    limited_after: int = 0  # requests sent when the first 429 came
    statuses: Counter[str] = field(default_factory=Counter)
    during: Counter[str] = field(default_factory=Counter)  # answers while the other client asks
    first_limited: list[Probe] = field(default_factory=list)
    failures: list[Probe] = field(default_factory=list)

    def _ran_out(self) -> None:
        with self.lock:
            if self.ended_at is None and not self.stop.is_set():
                self.ended_at = time.monotonic()

    def worker(self, ctx: AuthContext, token: str) -> None:
        while not self.stop.is_set():
            with self.lock:
                spent = self.sent >= self.budget or time.monotonic() >= self.deadline
                if not spent:
                    self.sent += 1
                    now = time.monotonic()
                    slot = max(now, self.next_at)
                    self.next_at = slot + self.interval_s
            if spent:
                self._ran_out()
                return
            if slot > now and self.stop.wait(slot - now):
                with self.lock:
                    self.sent -= 1  # not sent after all
                return
            probe = ctx.read("request in a burst from one client (portal-readonly)", token)
            status = str(probe.exchange.status or "no answer")
            with self.lock:
                self.statuses[status] += 1
                if self.limited.is_set():
                    self.during[status] += 1
                if probe.exchange.status == 429 and not self.first_limited:
                    self.first_limited.append(probe)
                    self.limited_after = self.sent
                    # go on, paced at the rate that got it refused and bounded, while the other
                    # client is probed
                    rate = self.sent / max(1e-3, time.monotonic() - self.started)
                    self.interval_s = 1.0 / rate
                    self.budget = self.sent + min(DURING_CAP, int(rate * DURING_S) + RATE_WORKERS)
                    self.deadline = time.monotonic() + DURING_S
                    self.limited.set()
                elif probe.exchange.error is not None:
                    self.failures.append(probe)
                    if len(self.failures) >= 5:  # a SUT that stopped answering: stop hammering it
                        self.stop.set()


@check("AUTH-RATE-LIMIT", severity=Severity.HIGH,
       requirements=["CONN-RATE-LIMIT", "CONN-RATE-LIMIT-PER-CLIENT", "RFC9110-RETRY-AFTER",
                     "OWASP-API4-2023"],
       defect=("auth.no_rate_limit", "auth.global_rate_limit"), timeout_s=60,
       title="A bounded burst from one client is cut off with 429 and a valid Retry-After, while "
             "another client is still served during that burst.")
def rate_limit(ctx: AuthContext) -> CheckResult:
    """A bounded burst from one client is cut off with 429 and a valid Retry-After; while that
    client is refused, another client's reads are still served (the limit is per client)."""
    if (problem := ctx.baseline_problem()) is not None:
        return problem
    max_requests = int(ctx.run.threshold("auth", "rate_limit_max_requests", RATE_MAX_REQUESTS))
    window_s = float(ctx.run.threshold("auth", "rate_limit_window_s", RATE_WINDOW_S))
    # its own client id: the burst must not spend the budget of the tokens other checks use
    token = ctx.token(PORTAL_READONLY, ("dossier.read",))
    other_token = ctx.token(PORTAL_B, ("dossier.read",))
    control = _other_client_served_first(ctx, other_token)
    if not _served(control):
        return CheckResult.errored(
            f"portal-b is not served before the burst ({said(control.exchange)}), so whether it "
            "is served during another client's burst proves nothing", *control.evidence())
    burst = _Burst(budget=max_requests, deadline=time.monotonic() + window_s)
    others: list[Probe] = []
    sent_at: list[float] = []  # when each of portal-b's reads during the burst went out
    # The host's health over the burst: a saturated host sends it too slowly to meet a limit.
    with HealthMonitor("rate-limit burst") as monitor:
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=RATE_WORKERS,
                                thread_name_prefix="popcert-burst") as pool:
            for _ in range(RATE_WORKERS):
                pool.submit(burst.worker, ctx, token)
            if burst.limited.wait(timeout=window_s + 1.0):
                others = _paced_reads(ctx, other_token, "during portal-readonly's burst",
                                      sent_at)
            burst.stop.set()
        elapsed = time.monotonic() - started
    sent = burst.sent
    rate = sent / elapsed if elapsed > 0 else 0.0
    measured = (Evidence.measurement("requests sent", sent, "requests", max_requests),
                Evidence.measurement("burst rate", round(rate, 1), "requests/s"),
                Evidence.note(", ".join(f"{k}: {v}" for k, v in sorted(burst.statuses.items())),
                              title="answers by status"))
    numbers = {"requests": float(sent), "rate_per_s": round(rate, 1), "elapsed_s": round(elapsed, 2)}
    if burst.first_limited:
        return _judge_limited(ctx, other_token, burst, others, control, measured, numbers,
                              sent_at)
    served = sum(v for k, v in burst.statuses.items() if k.isdigit() and 200 <= int(k) < 300)
    if burst.failures and served == 0:
        return CheckResult.errored("the SUT stopped answering during the burst",
                                   *burst.failures[0].evidence(), *measured)
    summary = (f"no rate limit: {sent} requests from one client in {elapsed:.1f} s "
               f"({rate:.0f}/s) got no 429")
    saturation = assess(monitor.figures) if monitor.figures is not None else None
    if saturation is not None and saturation.saturated:
        # A 429 seen is a fact on any host; its absence depends on how fast the burst went.
        return inconclusive_result(saturation, summary, *measured, advice="re-run on a quieter "
                                   "host", measurements=numbers)
    health = (health_evidence(saturation),) if saturation is not None else ()
    return CheckResult.failed(summary, *measured, *health, **numbers)


def _paced_reads(ctx: AuthContext, token: str, when: str,
                 sent_at: list[float] | None = None) -> list[Probe]:
    """The other client's OTHER_PROBES reads, OTHER_SPACING_S apart (``sent_at`` gets the time
    each one went out)."""
    probes: list[Probe] = []
    for n in range(1, OTHER_PROBES + 1):
        if n > 1:
            time.sleep(OTHER_SPACING_S)
        if sent_at is not None:
            sent_at.append(time.monotonic())
        probes.append(ctx.read(f"portal-b reading {when} ({n}/{OTHER_PROBES})", token))
        if probes[-1].exchange.error is not None:
            break
    return probes


def _wait_retry_after(probe: Probe) -> None:
    retry_after = probe.exchange.headers.get("retry-after", "1")
    time.sleep(min(CONTROL_WAIT_MAX_S, float(retry_after) if retry_after.isdigit() else 1.0))


def _judge_limited(ctx: AuthContext, other_token: str, burst: _Burst, others: list[Probe],
                   control: Probe, measured: tuple[Evidence, ...], numbers: dict[str, float],
                   sent_at: list[float]) -> CheckResult:
    """The burst got a 429: its Retry-After, then the other client's answers during it (and,
    when refused, the same reads without the burst)."""
    probe = burst.first_limited[0]
    header = probe.exchange.headers.get("retry-after")
    if not retry_after_valid(header):
        return CheckResult.failed(
            f"HTTP 429 after {burst.limited_after} requests but Retry-After is "
            f"{'missing' if header is None else repr(header) + ', not valid'}",
            *probe.evidence(), *measured, **numbers)
    during = Evidence.note(", ".join(f"{k}: {v}" for k, v in sorted(burst.during.items())),
                           title="portal-readonly's answers while portal-b was probed")
    limited_others = [p for p in others if p.exchange.status == 429]
    numbers = {**numbers, "other_client_served": float(sum(_served(p) for p in others)),
               "other_client_limited": float(len(limited_others))}
    if limited_others:
        _wait_retry_after(limited_others[-1])
        alone = _paced_reads(ctx, other_token, "after the burst, at the same pace")
        if not all(_served(p) for p in alone):
            bad = next(p for p in alone if not _served(p))
            return CheckResult.errored(
                f"portal-b was refused during the burst, but also without it ({bad.description} "
                f"→ {said(bad.exchange)}): its own limit refuses {OTHER_PROBES} reads "
                f"{OTHER_SPACING_S} s apart, so this proves nothing about a per-client limit",
                *limited_others[0].evidence(), *bad.evidence(), during, *measured)
        return CheckResult.failed(
            f"{limited_others[0].description} → HTTP 429 ({len(limited_others)} of {len(others)} "
            f"refused), while the same reads without the burst are served ({len(alone)}/"
            f"{len(alone)}): one client's burst limits another client, the rate limit is not per "
            "client", *limited_others[0].evidence(), *alone[0].evidence(), *control.evidence(),
            *probe.evidence(), during, *measured, **numbers)
    unusable = [p for p in others if not _served(p)]
    if unusable or not others:
        bad = unusable[0] if unusable else probe
        return CheckResult.errored(f"could not decide whether the limit is per client: "
                                   f"{bad.description} → {said(bad.exchange)}",
                                   *bad.evidence(), during, *measured)
    ended = burst.ended_at
    after = [p for p, at in zip(others, sent_at, strict=False) if ended is not None and at > ended]
    if after:
        return CheckResult.errored(
            f"portal-readonly's burst ended ({burst.sent} requests) before {len(after)} of "
            f"portal-b's {len(others)} reads went out, so portal-b being served then proves "
            "nothing about a per-client limit", *after[0].evidence(), during, *measured)
    if burst.during.get("429", 0) == 0:
        return CheckResult.errored(
            "portal-readonly was no longer refused while portal-b was probed, so portal-b being "
            "served proves nothing about a per-client limit", *others[0].evidence(), during,
            *measured)
    return CheckResult.passed(
        f"limited after {burst.limited_after} requests (HTTP 429, Retry-After {header}); during the "
        f"burst portal-b was served {len(others)}/{len(others)} times while portal-readonly "
        f"got {burst.during['429']}× 429", *probe.evidence(), *others[0].evidence(), during,
        *measured, **numbers)
