"""Latency budget per operation: a few timed, valid requests to every operation of connection/v1.

The fuzzing run's worst request (CONF-RESPONSE-TIME) lets a system that is slow on *every* request
pass. Here each operation gets ``samples`` valid requests, built from the spec alone (examples,
defaults, links), and their median and p90 are judged against the profile's budget for that
operation: one slow request on a loaded machine does not fail a compliant system, a system slow on
every request fails without the load suite (docs/conformance.md "Latency budget").
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from harness.checks import CheckResult, Status
from harness.health import HealthFigures, assess, health_evidence, inconclusive_result
from harness.health_monitor import HealthMonitor
from harness.net import Exchange, SafeClient

DEFAULT_BUDGET_MS = 500.0  # when a profile sets no latency_budget_ms at all
DEFAULT_SAMPLES = 10
P90_FACTOR = 2.0  # the p90 may reach twice the budget: a few slow requests are noise, many are not
PHASE_LIMIT_S = 45.0  # the whole timing phase, so a slow SUT cannot eat the fuzzing's budget
MAX_RETRY_AFTER_S = 5.0
READ_METHODS = frozenset({"get", "head", "options"})
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


@dataclass(frozen=True)
class TimedOperation:
    """A valid request to one operation, built from the spec (or why none could be built)."""

    operation_id: str
    method: str
    path: str
    bearer: bool
    body: Any = None
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    # path parameter -> (operationId whose 2xx body provides it, JSON pointer), from spec links
    linked: dict[str, tuple[str, str]] = field(default_factory=dict)
    problem: str | None = None

    @property
    def label(self) -> str:
        return f"{self.method.upper()} {self.path}"

    @property
    def method_class(self) -> str:
        return "read" if self.method.lower() in READ_METHODS else "write"


@dataclass
class OperationTiming:
    operation: TimedOperation
    budget_ms: float
    samples_ms: list[float] = field(default_factory=list)
    attempts: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    problem: str | None = None
    slowest: Exchange | None = None
    rejected: Exchange | None = None  # the first non-2xx answer to a valid request
    first_body: Any = None

    @property
    def median_ms(self) -> float | None:
        return round(statistics.median(self.samples_ms), 1) if self.samples_ms else None

    @property
    def p90_ms(self) -> float | None:
        if not self.samples_ms:
            return None
        ordered = sorted(self.samples_ms)
        return ordered[math.ceil(0.9 * len(ordered)) - 1]  # nearest rank

    @property
    def timed(self) -> bool:
        return self.problem is None and bool(self.samples_ms)

    @property
    def over_budget(self) -> bool:
        median, p90 = self.median_ms, self.p90_ms
        return self.timed and median is not None and p90 is not None and (
            median > self.budget_ms or p90 > P90_FACTOR * self.budget_ms)


@dataclass
class LatencyReport:
    timings: list[OperationTiming] = field(default_factory=list)
    aborted: str | None = None  # why timing stopped before every operation was tried
    aborted_exchange: Exchange | None = None
    health: HealthFigures | None = None  # the host while timing (harness/health.py)


def budget_for(thresholds: Mapping[str, Any], operation_id: str, method: str) -> float:
    """``latency_budget_ms``: a number, or a mapping keyed by operationId, ``read``/``write``, ``default``."""
    raw = thresholds.get("latency_budget_ms", DEFAULT_BUDGET_MS)
    if isinstance(raw, Mapping):
        method_class = "read" if method.lower() in READ_METHODS else "write"
        for key in (operation_id, method_class, "default"):
            if key in raw:
                return float(raw[key])
        return DEFAULT_BUDGET_MS
    return float(raw)


def _resolve(spec: dict[str, Any], node: Any) -> Any:
    seen = 0
    while isinstance(node, dict) and isinstance(node.get("$ref"), str) and seen < 20:
        ref = node["$ref"]
        if not ref.startswith("#/"):
            return {}
        node = spec
        for part in ref[2:].split("/"):
            node = node.get(part.replace("~1", "/").replace("~0", "~"), {}) \
                if isinstance(node, dict) else {}
        seen += 1
    return node


def _example_value(spec: dict[str, Any], holder: dict[str, Any]) -> tuple[bool, Any]:
    """The first example a parameter or media type documents: (found, value)."""
    if "example" in holder:
        return True, holder["example"]
    for example in (holder.get("examples") or {}).values():
        example = _resolve(spec, example)
        if isinstance(example, dict) and "value" in example:
            return True, example["value"]
    schema = _resolve(spec, holder.get("schema") or {})
    if isinstance(schema, dict):
        for key in ("example", "default", "const"):
            if key in schema:
                return True, schema[key]
        if schema.get("examples"):
            return True, schema["examples"][0]
        if schema.get("enum"):
            return True, schema["enum"][0]
    return False, None


def _links_to(spec: dict[str, Any]) -> dict[str, dict[str, tuple[str, str]]]:
    """operationId -> {parameter: (source operationId, JSON pointer into the source's 2xx body)}."""
    found: dict[str, dict[str, tuple[str, str]]] = {}
    for item in (spec.get("paths") or {}).values():
        for method in HTTP_METHODS:
            operation = (item or {}).get(method)
            if not isinstance(operation, dict) or "operationId" not in operation:
                continue
            for code, response in (operation.get("responses") or {}).items():
                if not str(code).startswith("2"):
                    continue
                for link in (_resolve(spec, response).get("links") or {}).values():
                    link = _resolve(spec, link)
                    target = link.get("operationId") if isinstance(link, dict) else None
                    if not isinstance(target, str) or not target:
                        continue  # a link names its operation by id; anything else is not followed
                    for name, expression in (link.get("parameters") or {}).items():
                        if isinstance(expression, str) and expression.startswith("$response.body#"):
                            found.setdefault(target, {}).setdefault(
                                name, (operation["operationId"],
                                       expression.removeprefix("$response.body#")))
    return found


def timed_operations(spec: dict[str, Any], bearer_scheme: str | None,
                     excluded_paths: list[str]) -> list[TimedOperation]:
    """One valid request per operation, from the spec's examples, defaults and links.

    Operations whose requests need something the spec does not give (a required value with no
    example, a path parameter no link provides) carry a ``problem`` instead.
    """
    links = _links_to(spec)
    operations: list[TimedOperation] = []
    for path, item in (spec.get("paths") or {}).items():
        if path in excluded_paths or not isinstance(item, dict):
            continue
        for method in HTTP_METHODS:
            operation = item.get(method)
            if not isinstance(operation, dict):
                continue
            operation_id = str(operation.get("operationId") or f"{method.upper()} {path}")
            security = operation.get("security", spec.get("security")) or []
            bearer = bool(bearer_scheme) and any(bearer_scheme in r for r in security)
            query: dict[str, str] = {}
            headers: dict[str, str] = {}
            linked: dict[str, tuple[str, str]] = {}
            problems: list[str] = []
            parameters = [_resolve(spec, p) for p in [*(item.get("parameters") or []),
                                                      *(operation.get("parameters") or [])]]
            for parameter in parameters:
                if not isinstance(parameter, dict):
                    continue
                name, where = str(parameter.get("name", "")), parameter.get("in")
                if where == "path":
                    if name in links.get(operation_id, {}):
                        linked[name] = links[operation_id][name]
                        continue
                    found, value = _example_value(spec, parameter)
                    if not found:
                        problems.append(f"no link or example gives path parameter {name}")
                    else:
                        linked[name] = ("", str(value))  # a literal value
                    continue
                if not parameter.get("required"):
                    continue
                found, value = _example_value(spec, parameter)
                if not found:
                    problems.append(f"no example for required {where} parameter {name}")
                elif where == "query":
                    query[name] = str(value).lower() if isinstance(value, bool) else str(value)
                elif where == "header":
                    headers[name] = str(value)
                else:
                    problems.append(f"required {where} parameter {name} is not supported")
            body = None
            request_body = _resolve(spec, operation.get("requestBody") or {})
            if isinstance(request_body, dict) and request_body.get("required"):
                media = (request_body.get("content") or {}).get("application/json")
                found, body = _example_value(spec, media) if isinstance(media, dict) else (False, None)
                if not found:
                    problems.append("no application/json example for the required request body")
            operations.append(TimedOperation(
                operation_id, method, path, bearer, body, query, headers, linked,
                "; ".join(problems) or None))
    # Operations fed by a link run after the operation that feeds them.
    return sorted(operations, key=lambda o: any(src for src, _ in o.linked.values()))


def _pointer(document: Any, pointer: str) -> Any:
    for part in [p for p in pointer.split("/") if p]:
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(document, dict):
            document = document.get(part)
        elif isinstance(document, list) and part.isdigit() and int(part) < len(document):
            document = document[int(part)]
        else:
            return None
    return document


def _url(base_url: str, operation: TimedOperation, bodies: dict[str, Any]) -> tuple[str | None, str]:
    path = operation.path
    for name, (source, pointer) in operation.linked.items():
        value = _pointer(bodies.get(source), pointer) if source else pointer
        if value is None or isinstance(value, (dict, list)):
            return None, f"no {name} to use: {source or 'the spec'} gave none"
        path = path.replace("{" + name + "}", quote(str(value), safe=""))
    return base_url.rstrip("/") + path, ""


def measure(client: SafeClient, base_url: str, token: str, operations: list[TimedOperation],
            thresholds: Mapping[str, Any], *, samples: int = DEFAULT_SAMPLES,
            phase_limit_s: float = PHASE_LIMIT_S, clock: Callable[[], float] = time.monotonic,
            sleep: Callable[[float], None] = time.sleep, health: bool = True) -> LatencyReport:
    """Time ``samples`` valid requests per operation, one at a time, after one warm-up request.

    A non-2xx answer is not a sample (429/503 are waited out per Retry-After, bounded); sampling
    stops early once more than half the samples are over budget (the median is decided). A request
    with no HTTP answer stops the phase: the SUT is unreachable, not slow.
    """
    if health:  # the host's health over the timing phase, calibration before and after
        with HealthMonitor("conformance latency timing") as monitor:
            report = measure(client, base_url, token, operations, thresholds, samples=samples,
                             phase_limit_s=phase_limit_s, clock=clock, sleep=sleep, health=False)
        report.health = monitor.figures
        return report
    report = LatencyReport()
    deadline = clock() + phase_limit_s
    bodies: dict[str, Any] = {}
    minimum = max(3, samples // 2)
    for operation in operations:
        timing = OperationTiming(operation, budget_for(thresholds, operation.operation_id,
                                                       operation.method))
        report.timings.append(timing)
        if operation.problem:
            timing.problem = f"not timed: {operation.problem}"
            continue
        if report.aborted:
            timing.problem = f"not timed: {report.aborted}"
            continue
        url, why = _url(base_url, operation, bodies)
        if url is None:
            timing.problem = f"not timed: {why}"
            continue
        headers = {"Accept": "application/json", **operation.headers}
        if operation.bearer:
            headers["Authorization"] = f"Bearer {token}"
        over, warmed = 0, False
        for _attempt in range(2 * samples + 1):
            if clock() > deadline:
                report.aborted = f"the timing phase's {phase_limit_s:g} s were spent"
                break
            exchange = client.request(operation.method, url, headers=headers,
                                      json_body=operation.body, params=operation.query or None)
            timing.attempts += 1
            if exchange.error or exchange.status is None:
                report.aborted = f"{operation.label}: no HTTP answer ({exchange.error})"
                report.aborted_exchange = exchange
                break
            timing.statuses[exchange.status] = timing.statuses.get(exchange.status, 0) + 1
            if not 200 <= exchange.status < 300:
                if exchange.status in (429, 503):
                    sleep(_retry_after(exchange))
                elif timing.rejected is None:
                    timing.rejected = exchange
                continue
            if timing.first_body is None:
                timing.first_body = exchange.json()
            if not warmed:
                warmed = True
                continue  # warm-up: connection reuse, lazy initialisation on the SUT
            timing.samples_ms.append(float(exchange.elapsed_ms or 0.0))
            if timing.slowest is None or (exchange.elapsed_ms or 0) > (timing.slowest.elapsed_ms or 0):
                timing.slowest = exchange
            over += (exchange.elapsed_ms or 0) > timing.budget_ms
            if len(timing.samples_ms) >= samples or over > samples // 2:
                break
        bodies[operation.operation_id] = timing.first_body
        if len(timing.samples_ms) < minimum and over <= samples // 2:
            seen = ", ".join(f"{code}×{n}" for code, n in sorted(timing.statuses.items()))
            timing.problem = (f"not timed: {len(timing.samples_ms)} valid answer(s) in "
                              f"{timing.attempts} request(s) (statuses {seen or 'none'})"
                              + (f"; {report.aborted}" if report.aborted else ""))
    return report


def _retry_after(exchange: Exchange) -> float:
    raw = exchange.headers.get("retry-after", "1")
    seconds = float(raw) if raw.strip().isdigit() else 1.0
    return min(max(seconds, 0.1), MAX_RETRY_AFTER_S)


def all_samples_over(timing: OperationTiming) -> bool:
    """Every sample of the operation took longer than its budget: a saturated host delays some
    requests, not every one of a sequence, so this failure is the SUT's own."""
    return timing.timed and len(timing.samples_ms) >= 3 and min(timing.samples_ms) > timing.budget_ms


def judged(report: LatencyReport, result: CheckResult) -> CheckResult:
    """CONF-LATENCY-BUDGET's result as the host's health allows (docs/load.md "Saturation"):
    unchanged when the host was not saturated; on a saturated host a failure stands only where
    every sample of an operation was over its budget, anything else is `error`, inconclusive."""
    if report.health is None or result.status not in (Status.PASS, Status.FAIL):
        return result
    saturation = assess(report.health)
    evidence = (health_evidence(saturation), *result.evidence)
    if not saturation.saturated:
        return CheckResult(result.status, result.summary, evidence, result.measurements)
    clear = [t for t in report.timings if t.over_budget and all_samples_over(t)]
    if result.status == Status.FAIL and clear:
        return CheckResult(Status.FAIL, result.summary + "; a failure saturation cannot explain: "
                           + ", ".join(f"every one of the {len(t.samples_ms)} samples of "
                                       f"{t.operation.operation_id} took longer than its "
                                       f"{t.budget_ms:g} ms budget (fastest "
                                       f"{min(t.samples_ms):g} ms)" for t in clear)
                           + f" (popcert was saturated: {saturation.describe()})",
                           evidence, result.measurements)
    return inconclusive_result(saturation, result.summary, *result.evidence,
                               advice="re-run on a quieter host",
                               measurements=result.measurements)
