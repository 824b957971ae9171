"""Portal traffic on the connection API (docs/interfaces.md §4), for locust.

Everything this file needs comes from a *load plan* JSON file named by ``POPCERT_LOAD_PLAN``,
written by ``harness.suites.load.plan``: bearer tokens already minted (locust never holds the
token service's private key), TLS material, per-user pacing, the traffic mix and a pool of
dossier bodies built from the synthetic population. A worker on another machine
(``popcert load worker``) has no plan file: it asks the master for the plan over locust's own
channel, with the run's join code (``POPCERT_LOAD_JOIN``).

Open model without coordinated omission: each user owns a timetable (one request every
1/user_rps seconds) and sends every request at its intended time in a greenlet of its own, so a
stalled SUT does not slow the offered rate; latency is recorded from the *intended* send time
(harness/suites/load/latency.py). The hostile-SUT rules (docs/security-model.md): no redirect is
ever followed (a 3xx is a failure with its Location as evidence), bodies are read and decoded
under 1 MiB, every request has a total deadline, and dossier ids from the SUT go into a path only
when they are a plain path segment.

    POPCERT_LOAD_PLAN=plan.json python -m locust -f load/locustfile.py --headless ...
"""

from __future__ import annotations

import atexit
import hmac
import itertools
import json
import logging
import math
import os
import random
import re
import shutil
import ssl
import tempfile
import time
import uuid
import weakref
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlsplit

import gevent
import gevent.event
import gevent.pool
import gevent.queue
import gevent.ssl
from geventhttpclient.url import URL
from locust import FastHttpUser, events, task
from locust.exception import CatchResponseError, StopUser
from locust.rpc import Message
from locust.runners import MasterRunner, WorkerRunner

from harness.suites.load.body import BodyRefused, decode_bounded, read_bounded
from harness.suites.load.headers import bound_response_headers
from harness.suites.load.latency import LatencyRecorder, latency_path
from harness.suites.load.sockets import CURRENT, bound_gevent_sockets

PLAN_ENV = "POPCERT_LOAD_PLAN"
JOIN_ENV = "POPCERT_LOAD_JOIN"
LOG = logging.getLogger("popcert.load")
# A dossier id goes into the URL path only when it is one plain segment (no '/', '?', '#', '..').
_SAFE_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._~-]{0,127}")
_DEFAULT_PLAN: dict[str, Any] = {
    "tokens": [""], "dossiers": [], "user_rps": 1.0, "max_requests": 0, "max_in_flight": 16,
    "weights": {"submit": 3, "poll": 5, "list": 2}, "base_path": "/connection/v1"}

PLAN: dict[str, Any] = {}
PLAN_READY = gevent.event.Event()
RECORDER = LatencyRecorder()
_USERS: weakref.WeakSet[PortalUser] = weakref.WeakSet()
_WALL_OFFSET = time.time() - time.monotonic()
_sent = 0
_MAX_REQUESTS = 0
# bench/load_accuracy.py computes the true latencies from every intended send time (local runs).
_TRACE: list[float] | None = [] if os.environ.get("POPCERT_LOAD_TRACE") else None
# Request ids: a random UUID v4 per process with a counter in its last 48 bits (unique, valid
# UUID syntax, no system call per request).
_ID_STEM = str(uuid.uuid4())[:24]
_id_counter = itertools.count()


def _request_id() -> str:
    return f"{_ID_STEM}{next(_id_counter) & 0xFFFFFFFFFFFF:012x}"
_tokens: itertools.cycle[str] = itertools.cycle([""])
_private_dir: str | None = None


def _adopt(plan: dict[str, Any]) -> None:
    global _tokens, _MAX_REQUESTS
    PLAN.clear()
    PLAN.update(plan)
    _tokens = itertools.cycle(plan.get("tokens") or [""])
    _MAX_REQUESTS = int(plan.get("max_requests") or 0)
    # Bodies are encoded once here, not per request.
    PLAN["encoded"] = [json.dumps(d, ensure_ascii=False).encode() for d in
                       plan.get("dossiers") or [{"procedure_code": "1.001193", "applicant": {},
                                                 "details": {}}]]
    PLAN_READY.set()


def _read_plan_file() -> dict[str, Any] | None:
    path = os.environ.get(PLAN_ENV)
    if not path:
        return None
    with open(path, encoding="utf-8") as plan_file:
        plan: dict[str, Any] = json.load(plan_file)
    return plan


_local_plan = _read_plan_file()
if _local_plan is not None:
    _adopt(_local_plan)
elif not os.environ.get(JOIN_ENV):
    _adopt(dict(_DEFAULT_PLAN))  # `locust -f load/locustfile.py --help` and imports work


# Decided at import: a remote worker gets its plan later and uses the default mix.
WEIGHTS: dict[str, int] = {k: int(v) for k, v in
                           ((_local_plan or {}).get("weights") or _DEFAULT_PLAN["weights"]).items()}
_GOLDEN = 0.6180339887498949
_epoch = time.monotonic()
_user_index = itertools.count()


def _first_slot(interval: float) -> float:
    """A user's first intended send time on the process-wide grid.

    User k's timetable is offset by frac(k·φ) of the interval from a common epoch, so the
    process's arrivals are spread evenly over each interval however fast users were spawned
    (they would otherwise bunch, and queue at a SUT that could serve them evenly spaced).
    """
    now = time.monotonic()
    phase = ((next(_user_index) * _GOLDEN) % 1.0) * interval
    periods = max(0, math.ceil((now - _epoch - phase) / interval))
    return _epoch + phase + periods * interval


# --- distributed: the master hands the plan to workers that present the join code ------------
_joined: set[str] = set()


def _pem(path: str | None) -> str | None:
    if not path:
        return None
    with open(path, encoding="utf-8") as pem:
        return pem.read()


def _on_plan_request(environment: Any, msg: Any, **_: Any) -> None:
    """Master: answer a worker's plan request when its join code is this run's, once per worker."""
    runner = environment.runner
    code = str((msg.data or {}).get("join") or "")
    expected = str(PLAN.get("join_code") or "")
    allowed = int(PLAN.get("workers_external") or 0)
    if not expected or not hmac.compare_digest(code, expected) or (
            msg.node_id not in _joined and len(_joined) >= allowed):
        LOG.warning("refused the plan to worker %s (wrong join code or no place left)",
                    msg.node_id)
        runner.send_message("popcert_plan_refused", {}, client_id=msg.node_id)
        # Forget it without the worker's own "quit": locust stops a run whose last worker quits.
        if msg.node_id in runner.clients:
            del runner.clients[msg.node_id]
        runner.server.send_to_client(Message("quit", None, msg.node_id))
        return
    _joined.add(msg.node_id)
    shipped = {k: v for k, v in PLAN.items() if k not in ("encoded", "join_code")}
    # Paths are the master's; the worker gets the material itself.
    for key in ("ca_bundle", "client_cert", "client_key"):
        shipped[f"{key}_pem"] = _pem(PLAN.get(key))
        shipped[key] = None
    runner.send_message("popcert_plan", shipped, client_id=msg.node_id)


def _write_private(name: str, text: str | None) -> str | None:
    global _private_dir
    if not text:
        return None
    if _private_dir is None:
        _private_dir = tempfile.mkdtemp(prefix="popcert-load-")  # 0700
        atexit.register(shutil.rmtree, _private_dir, True)
    path = os.path.join(_private_dir, name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    return path


def _on_plan(environment: Any, msg: Any, **_: Any) -> None:
    """External worker: the plan arrived from the master; keep its TLS material private."""
    plan = dict(msg.data)
    for key in ("ca_bundle", "client_cert", "client_key"):
        plan[key] = _write_private(f"{key}.pem", plan.pop(f"{key}_pem", None))
    _adopt(plan)


def _on_plan_refused(environment: Any, msg: Any, **_: Any) -> None:
    LOG.error("the master refused this worker the plan (wrong join code?); it sends nothing")
    environment.process_exit_code = 1  # the master's quit message follows


@events.init.add_listener
def _on_init(environment: Any, **_: Any) -> None:
    runner = environment.runner
    if isinstance(runner, MasterRunner):
        runner.register_message("popcert_plan_request", _on_plan_request)
        environment.events.worker_report.add_listener(
            lambda client_id, data, **_: RECORDER.merge_json(data.get("popcert_latency") or {}))
    elif isinstance(runner, WorkerRunner):
        environment.events.report_to_master.add_listener(
            lambda client_id, data, **_: data.__setitem__("popcert_latency", RECORDER.drain()))
        if not PLAN_READY.is_set():
            runner.register_message("popcert_plan", _on_plan)
            runner.register_message("popcert_plan_refused", _on_plan_refused)
            runner.send_message("popcert_plan_request", {"join": os.environ.get(JOIN_ENV, "")})


@events.quitting.add_listener
def _write_latency(environment: Any, **_: Any) -> None:
    """The master (or the only process) writes the corrected latencies beside locust's CSVs."""
    if isinstance(environment.runner, WorkerRunner):
        return
    prefix = getattr(environment.parsed_options, "csv_prefix", None)
    if prefix:
        RECORDER.write(latency_path(prefix))
        if _TRACE is not None:
            with open(f"{prefix}_intended.json", "w", encoding="utf-8") as trace:
                json.dump(_TRACE, trace)


@events.test_stopping.add_listener
def _count_unsent(**_: Any) -> None:
    # Requests due on a user's timetable but never sent (it was blocked) are still owed.
    for user in list(_USERS):
        user.settle_timetable()


# A handshake held inside OpenSSL (HelloRequest flood) or a read loop that never waits (endless
# chunked trailer) would freeze the whole worker: both end at the request deadline. The trailer's
# fields, which geventhttpclient would keep without limit until then, are bounded as well.
bound_gevent_sockets(lambda: float(PLAN.get("request_deadline_s", 30.0)))
bound_response_headers()


def _ssl_context_factory(cafile: str | None = None, **_: Any) -> ssl.SSLContext:
    """TLS to the SUT: its private CA, and the portal's client certificate when mTLS is on."""
    context = gevent.ssl.create_default_context(cafile=PLAN.get("ca_bundle") or cafile)
    if PLAN.get("client_cert"):
        context.load_cert_chain(PLAN["client_cert"], PLAN.get("client_key"))
    return context


def _report(fire: Callable[..., None], request_type: str, name: str, response_time_ms: float,
            length: int, error: BaseException | None) -> None:
    """One request into locust's statistics (and the run's request bound)."""
    global _sent
    _sent += 1
    fire(request_type=request_type, name=name, response_time=response_time_ms,
         response_length=length, exception=error, context={})


class PortalUser(FastHttpUser):
    """One portal session: submits dossiers, polls their status, lists its own dossiers.

    Requests go straight to the user's geventhttpclient ``HTTPClient`` (the one locust's
    ``FastHttpSession`` would pick from the same pool, same TLS and timeouts) and this file reports
    them to locust itself: locust's session wrapper (URL re-parsing, cookie jar, redirect loop,
    response copies) would double the driver's CPU per request for nothing the checks use.
    ``HTTPClient`` follows no redirect by construction.
    """

    # Never follow a redirect: the Location may be out of scope or drop TLS (issue 12).
    max_redirects = 0
    max_retries = 0

    def __init__(self, environment: Any) -> None:
        PLAN_READY.wait(60)  # an external worker that never gets the plan stops in on_start
        self.insecure = not PLAN.get("verify_tls", True)
        self.ssl_context_factory = _ssl_context_factory if PLAN.get("verify_tls", True) else None
        self.network_timeout = float(PLAN.get("request_timeout_s", 10.0))
        self.connection_timeout = float(PLAN.get("request_timeout_s", 10.0))
        self.concurrency = max(1, int(PLAN.get("max_in_flight", 16)))
        super().__init__(environment)
        self.client.client.redirect_response_codes = frozenset()

    def wait_time(self) -> float:  # type: ignore[override]
        return max(0.0, self._next - time.monotonic())

    def on_start(self) -> None:
        if not PLAN_READY.is_set():
            raise StopUser()
        allowed = PLAN.get("allowed_hosts")
        target = urlsplit(self.host or "")
        if allowed and target.hostname not in allowed:
            LOG.error("host %s is not in the plan's scope %s; this user sends nothing",
                      self.host, allowed)
            raise StopUser()
        self.token = next(_tokens)
        self.base = str(PLAN.get("base_path", "/connection/v1")).rstrip("/")
        self.deadline_s = float(PLAN.get("request_deadline_s", 30.0))
        self.dossier_ids: list[str] = []
        # Everything a request needs that does not change per request, built once.
        self._http = self.client.client.clientpool.get_client(URL(self.host))
        prefix = quote(target.path.rstrip("/") + self.base, safe="/:@!$&'()*+,;=-._~%")
        self._dossiers_path = f"{prefix}/dossiers"
        self._list_path = f"{prefix}/dossiers?limit=20"
        self._health_path = f"{prefix}/health"
        self._submit_name = f"POST {self.base}/dossiers"
        self._poll_name = f"GET {self.base}/dossiers/{{dossier_id}}"
        self._list_name = f"GET {self.base}/dossiers"
        self._fire = self.environment.events.request.fire
        self._base_headers = {"Authorization": f"Bearer {self.token}",
                              "Accept": "application/json", "Accept-Encoding": "identity"}
        self._submit_headers = {**self._base_headers, "Content-Type": "application/json"}
        bodies = list(PLAN["encoded"])
        random.Random(self.token + str(id(self))).shuffle(bodies)
        self._bodies = itertools.cycle(bodies)  # this user's walk through the dossier pool
        self._polls = 0
        # Lanes: up to max_in_flight greenlets, each sending one request at a time, fed by a
        # queue as long as the lanes (a full queue blocks the timetable: in flight stays bounded).
        self._queue: gevent.queue.Queue[tuple[Callable[[float], bool], str, float]] = \
            gevent.queue.Queue(self.concurrency)
        self._lanes = gevent.pool.Group()
        self._idle_lanes = 0
        self._in_flight: dict[int, tuple[str, float]] = {}
        self._interval = 1.0 / max(1e-6, float(PLAN.get("user_rps", 1.0)))
        self._warm_up()
        self._next = _first_slot(self._interval)
        _USERS.add(self)
        gevent.sleep(max(0.0, self._next - time.monotonic()))  # the first task is its first slot

    def on_stop(self) -> None:
        self.settle_timetable()
        if hasattr(self, "_lanes"):
            now = time.monotonic()
            waiting = [(name, intended) for _, name, intended in self._queue.queue]
            for name, intended in (*self._in_flight.values(), *waiting):
                RECORDER.record_unfinished(name, now - intended, intended + _WALL_OFFSET)
            self._in_flight.clear()
            self._lanes.kill(block=False)

    def settle_timetable(self) -> None:
        """Count the slots that came due but were never launched, once."""
        if hasattr(self, "_next"):
            now = time.monotonic()
            if now >= self._next:
                missed = int((now - self._next) / self._interval) + 1
                RECORDER.add_due(missed, self._next + _WALL_OFFSET, self._interval)
                self._next += missed * self._interval

    def _warm_up(self) -> None:
        """Open the user's keep-alive (TLS) connection outside the statistics.

        A portal holds persistent connections; 20 simultaneous handshakes at spawn would
        otherwise dominate the p95 of a short run and hide what the thresholds are about.
        """
        response = None
        CURRENT.at = time.monotonic() + self.deadline_s
        try:
            with gevent.Timeout(self.deadline_s):
                response = self._http.request("GET", self._health_path,
                                              headers={"Accept-Encoding": "identity"})
                read_bounded(response)
        except (Exception, gevent.Timeout):  # noqa: BLE001 - the measured requests report it
            _discard(response)
        except BaseException:  # the user's end (GreenletExit) lands here now: not swallowed
            _discard(response)
            raise
        finally:
            CURRENT.at = None

    def _headers(self) -> dict[str, str]:
        headers = self._base_headers.copy()
        headers["X-Request-Id"] = _request_id()
        return headers

    # --- the timetable -------------------------------------------------------------------------
    def _launch(self, send: Callable[[float], bool], name: str) -> None:
        """Hand the request to a free lane at its intended time; measure from the intended time."""
        if _MAX_REQUESTS and _sent >= _MAX_REQUESTS:
            raise StopUser()
        intended = self._next
        self._next += self._interval
        RECORDER.add_due(1, intended + _WALL_OFFSET)
        if _TRACE is not None:
            _TRACE.append(intended + _WALL_OFFSET)
        if not self._idle_lanes and len(self._lanes) < self.concurrency:
            self._lanes.spawn(self._lane)
        self._queue.put((send, name, intended))

    def _lane(self) -> None:
        key = id(gevent.getcurrent())
        while True:
            self._idle_lanes += 1
            send, name, intended = self._queue.get()
            self._idle_lanes -= 1
            self._timed(send, name, intended, key)

    def _timed(self, send: Callable[[float], bool], name: str, intended: float, key: int) -> None:
        ok = False
        self._in_flight[key] = (name, intended)
        started = time.monotonic()
        RECORDER.record_send_lag(started - intended)
        try:
            with gevent.Timeout(self.deadline_s):
                ok = send(started)
        except gevent.Timeout:
            _report(self._fire, name.split(" ")[0], name, self.deadline_s * 1000, 0, TimeoutError(
                f"no complete answer within the {self.deadline_s:g} s request deadline"))
        if self._in_flight.pop(key, None) is not None:
            done = time.monotonic()  # service time from the actual send: the SUT's own floor
            RECORDER.record(name, done - intended, ok, intended + _WALL_OFFSET, done - started)

    def _request(self, method: str, path: str, name: str, started: float, *, body: bytes = b"",
                 headers: dict[str, str], expect: int) -> bytes | None:
        """One request that follows no redirect and reads at most 1 MiB; the decoded answer on
        the expected status, else None with the reason recorded as a failure."""
        response = None
        status = 0
        content = None
        length = 0
        error: BaseException | None = None
        CURRENT.at = started + self.deadline_s  # this greenlet's reads (harness/hostile)
        try:
            response = self._http.request(method, path, body=body, headers=headers)
            status = response.status_code
            if 300 <= status < 400:
                location = response.get("location") or ""
                _discard(response)
                error = CatchResponseError(f"HTTP {status} redirect to {str(location)[:200]!r} "
                                           "not followed")
            else:
                raw = read_bounded(response)
                length = len(raw)
                content = decode_bounded(raw, response.get("content-encoding"))
                if status != expect:
                    error = CatchResponseError(f"HTTP {status}")
                    content = None
        except BodyRefused as refused:  # too large, or a coding refused (harness/hostile)
            _discard(response)
            error = CatchResponseError(f"HTTP {status}: {refused}")
        except Exception as broken:  # noqa: BLE001 - a hostile SUT is a failure, not a crash
            _discard(response)
            # No HTTP answer (refused, reset, TLS, unparsable head): the error itself, as locust
            # reports it; an answer whose body could not be read: its status and the cause.
            error = broken if response is None else CatchResponseError(
                f"HTTP {status}: unreadable body ({type(broken).__name__})")
            content = None
        except BaseException:  # the request deadline (the lane reports it) or the user's end
            _discard(response)
            raise
        finally:
            CURRENT.at = None
        _report(self._fire, method, name, (time.monotonic() - started) * 1000, length, error)
        return content

    @task(WEIGHTS.get("submit", 3))
    def submit_dossier(self) -> None:
        self._launch(self._submit, self._submit_name)

    def _submit(self, started: float) -> bool:
        headers = self._submit_headers.copy()
        headers["X-Request-Id"] = headers["Idempotency-Key"] = _request_id()
        content = self._request("POST", self._dossiers_path, self._submit_name, started,
                                body=next(self._bodies), headers=headers, expect=201)
        if content is None:
            return False
        try:
            dossier_id = json.loads(content)["dossier_id"]
        except (ValueError, KeyError, TypeError):
            return False
        if isinstance(dossier_id, str) and _SAFE_SEGMENT.fullmatch(dossier_id) \
                and ".." not in dossier_id:
            self.dossier_ids.append(dossier_id)
            del self.dossier_ids[:-50]  # a portal polls its recent dossiers
        return True

    @task(WEIGHTS.get("poll", 5))
    def poll_status(self) -> None:
        if not self.dossier_ids:
            self.submit_dossier()
            return
        self._launch(self._poll, self._poll_name)

    def _poll(self, started: float) -> bool:
        self._polls += 1
        dossier_id = self.dossier_ids[self._polls % len(self.dossier_ids)]
        return self._request("GET", f"{self._dossiers_path}/{dossier_id}", self._poll_name,
                             started, headers=self._headers(), expect=200) is not None

    @task(WEIGHTS.get("list", 2))
    def list_dossiers(self) -> None:
        self._launch(self._list, self._list_name)

    def _list(self, started: float) -> bool:
        return self._request("GET", self._list_path, self._list_name, started,
                             headers=self._headers(), expect=200) is not None


def _discard(response: Any) -> None:
    """Close the connection of an answer whose body was not read to its end (never reuse it)."""
    sock, pool = getattr(response, "_sock", None), getattr(response, "_pool", None)
    if sock is None:
        return
    try:
        if pool is not None:
            pool.release_socket(sock)
        else:
            sock.close()
    finally:
        response._sock = None
        response._pool = None
