"""Run schemathesis against the SUT in a bounded subprocess and parse what it found.

A subprocess (``st run`` with an NDJSON event report) keeps a hostile SUT from hurting the harness:
a hang is cut by a wall-clock kill, a memory bomb by an address-space limit, a crash by isolation.
Inside the child, ``guard`` (loaded as a schemathesis hooks module) adds SafeClient's
rules: no redirect followed, bodies cut at 1 MiB decoded, a total deadline per request.
The token travels in the child's environment, never on its command line or in a file.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.processes import spawn
from harness.resources import user_cache_dir
from harness.suites.conformance import builtin_checks
from harness.suites.conformance.mapping import root_causes
from harness.suites.conformance.progress import PROGRESS_ENV, PROGRESS_FILE, wait_reporting
from harness.suites.conformance.replay import (
    REPRODUCIBLE_GENERATION,
    REPRODUCIBLE_SETTINGS,
    RequestLog,
    version_of,
)

# The --checks allow-list: every built-in check that is on (builtin_checks.TABLE says why each
# one is on or off); a check a later schemathesis adds stays off until the table decides.
BUILTIN_CHECKS = builtin_checks.ENABLED
TOKEN_ENV = "POPCERT_CONF_TOKEN"
REQUEST_LOG = "requests.tsv"  # phase, method, target, body SHA-256: one generated request a line
SENSITIVE_MARKERS = ["token", "secret", "password", "auth", "session", "passwd", "credential",
                     "api-key", "api_key", "apikey", "private", "signature"]
GUARD_MODULE = "harness.suites.conformance.guard"
HYPOTHESIS_STORAGE_ENV = "HYPOTHESIS_STORAGE_DIRECTORY"
# Schemathesis and hypothesis need ~400 MB; a SUT sending gigabytes must not take the host down
# (the guard already cuts every body at max_body_bytes; this is the backstop).
CHILD_MEMORY_LIMIT = 2 * 1024**3
# The child must reach the SUT directly: a proxy variable would send its traffic to another host.
PROXY_VARIABLES = frozenset({"http_proxy", "https_proxy", "all_proxy", "no_proxy"})
BODY_EVIDENCE_BYTES = 2000
# A broken operation fails thousands of times; evidence keeps a few samples, counters keep all.
SAMPLES_PER_CHECK_AND_OPERATION = 3
MAX_PROBLEMS = 50
SCHEMA_CHECKS = frozenset({"response_schema_conformance", "response_headers_conformance"})
# How schemathesis names a negative case whose invalid part is the credential header
# ("Missing `Authorization` at header" in 4.32, "... in header" before).
_ONLY_CREDENTIAL_INVALID = re.compile(r"`Authorization` (?:in|at) header")


@dataclass(frozen=True)
class FuzzPlan:
    """Everything one schemathesis run needs; built by the suite from the run config."""

    spec_path: Path
    base_url: str  # includes the spec's base path, e.g. https://127.0.0.1:8443/connection/v1
    token: str
    workdir: Path
    seed: int
    max_examples: int
    max_response_time_s: float | None = None
    ca_bundle: Path | None = None
    client_cert: Path | None = None
    client_key: Path | None = None
    bearer_scheme: str | None = None  # securitySchemes name; None sends a plain header
    exclude_path_regex: str | None = None
    request_timeout_s: float = 10.0
    request_deadline_s: float | None = None  # total per request, body included; default timeout
    max_body_bytes: int = 1_048_576  # decoded; a longer body (or a bomb) is an error, not read
    wall_timeout_s: float = 300.0
    phases: tuple[str, ...] = ("examples", "coverage", "fuzzing", "stateful")
    workers: int = 1  # one worker keeps a seed reproducible


@dataclass(frozen=True)
class Finding:
    """One failed built-in check on one request, with what is needed to replay it."""

    check: str  # schemathesis check name, e.g. not_a_server_error
    code: str  # schemathesis failure code, e.g. ST101
    title: str
    message: str
    operation: str
    phase: str
    case_id: str
    negative: bool
    request: dict[str, Any]
    response: dict[str, Any] | None
    curl: str


@dataclass(frozen=True)
class RunProblem:
    """Something that stopped schemathesis from deciding: network error, crash, timeout."""

    title: str
    message: str
    operation: str = ""


@dataclass
class FuzzOutcome:
    findings: list[Finding] = field(default_factory=list)
    problems: list[RunProblem] = field(default_factory=list)
    complete: bool = False
    timed_out: bool = False
    exit_code: int | None = None
    duration_s: float = 0.0
    requests: int = 0
    operations_tested: int = 0
    seed: int = 0
    command: str = ""
    stderr_tail: str = ""
    failure_counts: dict[str, int] = field(default_factory=dict)  # check name -> failed requests
    # Requests still answered 429 (or 503 + Retry-After) after schemathesis waited them out:
    # their answer says nothing about the request (checks.THROTTLED_SHARE).
    throttled: int = 0
    log: RequestLog = field(default_factory=RequestLog)  # the generated requests, in order
    replay: dict[str, Any] = field(default_factory=dict)  # what a replay needs (replay_record)

    def findings_for(self, checks: set[str]) -> list[Finding]:
        return [f for f in self.findings if f.check in checks]


def replay_record(plan: FuzzPlan, outcome: FuzzOutcome) -> dict[str, Any]:
    """What replaying this run needs, and what the replay must reproduce: the same versions, seed,
    phases and example budget against the same SUT behaviour give the same request sequence."""
    return {
        "seed": plan.seed, "schemathesis": version_of("schemathesis"),
        "hypothesis": version_of("hypothesis"), "phases": list(plan.phases),
        "max_examples": plan.max_examples, "mode": "all", "workers": plan.workers,
        "settings": [*REPRODUCIBLE_SETTINGS, *REPRODUCIBLE_GENERATION],
        "checks": list(BUILTIN_CHECKS), "excluded": plan.exclude_path_regex or "",
        "requests": len(outcome.log.requests), "per_phase": outcome.log.per_phase(),
        "per_operation": outcome.log.per_operation(),
        "request_sequence_sha256": outcome.log.digest(),
        # A run the wall clock cut is not a reproducible run: its request set depends on speed.
        "cut_by_wall_clock": outcome.timed_out,
        "complete": outcome.complete,
    }


def write_config(plan: FuzzPlan) -> Path:
    """schemathesis.toml for this run; the token is a ${VAR} placeholder resolved in the child."""
    lines = [f"seed = {plan.seed}", "max-redirects = 0", f"workers = {plan.workers}",
             f"request-timeout = {plan.request_timeout_s}", "color = false",
             *REPRODUCIBLE_SETTINGS]
    if plan.ca_bundle is not None:
        lines.append(f"tls-verify = {json.dumps(str(plan.ca_bundle))}")
    if plan.client_cert is not None and plan.client_key is not None:
        lines.append(f"request-cert = {json.dumps(str(plan.client_cert))}")
        lines.append(f"request-cert-key = {json.dumps(str(plan.client_key))}")
    lines += ["", "[generation]", f"max-examples = {plan.max_examples}", 'mode = "all"',
              *REPRODUCIBLE_GENERATION, ""]
    # Schemathesis's default markers filter every name containing "key", Idempotency-Key
    # included, so a finding's curl could not be replayed (issue 21 §2). Credentials stay
    # filtered: its keys-to-sanitize list (authorization, x-api-key, ...) and these markers.
    lines += ["[output.sanitization]", "sensitive-markers = " + json.dumps(SENSITIVE_MARKERS), ""]
    if plan.bearer_scheme:
        lines += [f"[auth.openapi.{json.dumps(plan.bearer_scheme)}]",
                  f'bearer = "${{{TOKEN_ENV}}}"', ""]
    else:
        lines += ["[headers]", f'Authorization = "Bearer ${{{TOKEN_ENV}}}"', ""]
    lines.append("[checks]")
    if plan.max_response_time_s:
        lines.append(f"max_response_time = {plan.max_response_time_s}")
    path = plan.workdir / "schemathesis.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def command(plan: FuzzPlan, config: Path, ndjson: Path) -> list[str]:
    st = Path(sys.executable).with_name("st")
    argv = [str(st) if st.exists() else "st", "--config-file", str(config), "run",
            str(plan.spec_path), "--url", plan.base_url, "--checks", ",".join(BUILTIN_CHECKS),
            "--phases", ",".join(plan.phases), "--report", "ndjson",
            "--report-ndjson-path", str(ndjson), "--suppress-health-check", "all", "--no-color"]
    # No --max-time: with it schemathesis keeps fuzzing until the budget is spent; the example
    # budget bounds the run and wall_timeout_s is enforced by killing the child instead.
    if plan.exclude_path_regex:
        argv += ["--exclude-path-regex", plan.exclude_path_regex]
    if plan.max_response_time_s:
        # --checks is an allow-list; the response-time check is switched on by its own flag.
        argv += ["--max-response-time", str(plan.max_response_time_s)]
    return argv


def child_environment(plan: FuzzPlan) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k.lower() not in PROXY_VARIABLES}
    # Hypothesis keeps its Unicode tables under its storage directory, by default in the child's
    # fresh working folder: every run then rebuilt them by scanning all code points (about 0.9 s
    # of the child's CPU, bench/conformance_child.py).
    # They depend only on the Python build, so they live in the user's cache; no examples do
    # (generation.database is "none").
    env.setdefault(HYPOTHESIS_STORAGE_ENV, str(user_cache_dir() / "hypothesis"))
    return {**env, TOKEN_ENV: plan.token, "NO_COLOR": "1", "SCHEMATHESIS_HOOKS": GUARD_MODULE,
            "POPCERT_CONF_MAX_BODY": str(plan.max_body_bytes),
            "POPCERT_CONF_DEADLINE_S": str(plan.request_deadline_s or plan.request_timeout_s),
            PROGRESS_ENV: str(plan.workdir / PROGRESS_FILE)}


def run_schemathesis(plan: FuzzPlan,
                     on_progress: Callable[[str], None] | None = None) -> FuzzOutcome:
    """Run the fuzzer; never raises for anything the SUT does (problems land in the outcome).
    ``on_progress`` receives the run's progress (requests, failures, operation) as it goes."""
    plan.workdir.mkdir(parents=True, exist_ok=True)
    config = write_config(plan)
    ndjson = plan.workdir / "events.ndjson"
    ndjson.unlink(missing_ok=True)
    (plan.workdir / PROGRESS_FILE).unlink(missing_ok=True)
    argv = command(plan, config, ndjson)
    env = child_environment(plan)
    outcome = FuzzOutcome(seed=plan.seed, command=shlex.join(argv))
    started = time.monotonic()
    hard_limit = plan.wall_timeout_s
    with open(plan.workdir / "st.log", "wb") as log:
        # Own process group, killed with popcert (even by SIGKILL), on interrupt and, as a
        # whole group, at the deadline.
        child = spawn(argv, name="schemathesis", cwd=plan.workdir, env=env, stdout=log,
                      stderr=subprocess.STDOUT, deadline_s=hard_limit,
                      memory_limit_bytes=CHILD_MEMORY_LIMIT)
        try:
            outcome.exit_code = wait_reporting(child, plan.workdir / PROGRESS_FILE, on_progress)
        finally:
            child.stop(grace_s=0)  # anything it left behind in its group
    if child.timed_out:
        outcome.timed_out = True
        outcome.problems.append(RunProblem(
            "timeout", f"schemathesis did not finish within {hard_limit:.0f} s; killed"))
    outcome.duration_s = time.monotonic() - started
    log_text = (plan.workdir / "st.log").read_text(encoding="utf-8", errors="replace")
    outcome.stderr_tail = log_text[-3000:]
    if ndjson.exists():
        parse_events(ndjson, plan, outcome)
    else:
        outcome.problems.append(RunProblem("no report", "schemathesis wrote no event report"))
    (plan.workdir / REQUEST_LOG).write_text(outcome.log.text(), encoding="utf-8")
    outcome.replay = replay_record(plan, outcome)
    if outcome.exit_code not in (0, 1) and not outcome.timed_out:
        outcome.problems.append(RunProblem(
            "schemathesis exited abnormally", f"exit code {outcome.exit_code}: "
            + log_text[-600:].strip()))
    return outcome


@dataclass
class _FailedCase:
    """A request with at least one failed check, kept until attribution at the end of the stream."""

    case_id: str
    label: str
    phase: str
    failures: dict[str, dict[str, Any]]
    case: dict[str, Any]
    interaction: dict[str, Any]
    # Header names (lower case) of the request that created the resource a stateful step used.
    parent_headers: frozenset[str] | None = None

    @property
    def status(self) -> int | None:
        return (self.interaction.get("response") or {}).get("status_code")

    def response_text(self) -> str:
        body = _decode((self.interaction.get("response") or {}).get("content")) or b""
        return body[:65536].decode("utf-8", "replace")


def parse_events(path: Path, plan: FuzzPlan, outcome: FuzzOutcome) -> None:
    """Fold the NDJSON event stream into findings, problems and counters."""
    seen: set[str] = set()
    operations: set[str] = set()
    failed: list[_FailedCase] = []
    with open(path, encoding="utf-8", errors="replace") as stream:
        for line in stream:
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue  # a report cut short by a kill: keep what was written
            (kind, payload), = event.items()
            if kind == "ScenarioFinished":
                failed += _scenario(payload, outcome, seen, operations)
                outcome.log.add_scenario(str(payload.get("phase", "")),
                                         str((payload.get("recorder") or {}).get("label", "")),
                                         payload.get("recorder") or {})
            elif kind == "NonFatalError" and len(outcome.problems) < MAX_PROBLEMS:
                outcome.problems.append(RunProblem(
                    _error_title(payload), _error_message(payload), str(payload.get("label", ""))))
            elif kind == "FatalError":
                outcome.problems.append(RunProblem("fatal", _error_message(payload)))
            elif kind == "EngineFinished":
                outcome.complete = True
    outcome.operations_tested = len(operations)
    _attribute(failed, plan, outcome)


def _tainted_resources(failed: list[_FailedCase]) -> set[str]:
    """Ids of resources the SUT created from invalid input it should have rejected."""
    tainted = set()
    for case in failed:
        if "negative_data_rejection" in root_causes(set(case.failures), case.status):
            try:
                created = json.loads(case.response_text())
            except ValueError:
                continue
            if isinstance(created, dict):
                tainted |= {str(v) for k, v in created.items() if k.endswith("_id") and v}
    return tainted


def _attribute(failed: list[_FailedCase], plan: FuzzPlan, outcome: FuzzOutcome) -> None:
    tainted = _tainted_resources(failed)
    for case in failed:
        causes = root_causes(_reinterpreted(case), case.status)
        if tainted and causes & SCHEMA_CHECKS:
            # Reading back a resource made from accepted invalid input shows the invalid value
            # again: that is CONF-NEGATIVE-DATA's defect, not a schema defect of the read.
            request_url = str((case.interaction.get("request") or {}).get("uri", ""))
            body = case.response_text()
            if any(t in request_url or t in body for t in tainted):
                causes -= SCHEMA_CHECKS
        for name in causes:
            _record(case, name, plan, outcome)


def _reinterpreted(case: _FailedCase) -> set[str]:
    """The case's failed checks, with the readings schemathesis cannot know about."""
    failed = set(case.failures)
    headers = {k.lower() for k in ((case.interaction.get("response") or {}).get("headers") or {})}
    if case.status == 503 and "retry-after" in headers:
        # connection/v1 documents 503 + Retry-After as back-pressure; load checks judge its rate.
        failed.discard("not_a_server_error")
    if "ignored_auth" in failed and case.status is not None and case.status >= 500:
        # The probe with bad credentials crashed the server: not ignored auth, and invalid-token
        # handling is the auth suite's (AUTH-JWT-*).
        failed.discard("ignored_auth")
    if case.parent_headers is not None and "authorization" not in case.parent_headers:
        # The resource was created by a request with no credential (accepted: that is ignored
        # auth, CONF-AUTH-IGNORED). It belongs to no client the read acts as, and connection/v1
        # reports another owner's dossier as 404: the read's 404 is right, not a stateful fault.
        failed -= {"ensure_resource_availability", "use_after_free"}
    if "missing_required_header" in failed and case.status is not None:
        credential = "'Authorization'" in json.dumps(case.failures["missing_required_header"])
        if credential and 200 <= case.status < 300:
            # Served without its bearer token: that is ignored auth (CONF-AUTH-IGNORED).
            failed.discard("missing_required_header")
            failed.add("ignored_auth")
            case.failures.setdefault("ignored_auth", case.failures["missing_required_header"])
        elif case.status == 429 or (case.status == 503 and "retry-after" in headers):
            # Throttled before the header was read: documented on every operation, says nothing.
            failed.discard("missing_required_header")
    negative = case.failures.get("negative_data_rejection")
    if negative is not None and _ONLY_CREDENTIAL_INVALID.search(json.dumps(negative)):
        # The only invalid part was the missing/garbled credential: that is ignored auth.
        failed.discard("negative_data_rejection")
        failed.add("ignored_auth")
        case.failures.setdefault("ignored_auth", negative)
    return failed


def _record(case: _FailedCase, name: str, plan: FuzzPlan, outcome: FuzzOutcome) -> None:
    outcome.failure_counts[name] = outcome.failure_counts.get(name, 0) + 1
    failure = (case.failures[name].get("failure_info") or {}).get("failure") or {}
    operation = str(failure.get("operation") or case.label)
    sampled = sum(1 for f in outcome.findings if f.check == name and f.operation == operation)
    if sampled >= SAMPLES_PER_CHECK_AND_OPERATION:
        return
    meta = case.case.get("meta") or {}
    request = case.interaction.get("request") or {}
    outcome.findings.append(Finding(
        check=name, code=str(failure.get("code", "")),
        title=str(failure.get("title", name)), message=str(failure.get("message", "")),
        operation=operation, phase=case.phase, case_id=case.case_id,
        negative=(meta.get("generation") or {}).get("mode") == "negative",
        request=_request_evidence(request),
        response=_response_evidence(case.interaction.get("response")),
        curl=curl_command(request, plan)))


def _error_title(payload: dict[str, Any]) -> str:
    value = payload.get("value") or payload.get("exception") or {}
    return str(value.get("type", "error")) if isinstance(value, dict) else "error"


def _error_message(payload: dict[str, Any]) -> str:
    value = payload.get("value") or payload.get("exception") or payload
    if isinstance(value, dict):
        return str(value.get("message") or value)[:1000]
    return str(value)[:1000]


def _scenario(payload: dict[str, Any], outcome: FuzzOutcome, seen: set[str],
              operations: set[str]) -> list[_FailedCase]:
    recorder = payload.get("recorder") or {}
    label = str(recorder.get("label", ""))
    interactions = recorder.get("interactions") or {}
    cases = recorder.get("cases") or {}
    if interactions:
        operations.add(label)
    outcome.requests += len(interactions)
    for interaction in interactions.values():
        response = (interaction or {}).get("response") or {}
        names = {str(k).lower() for k in response.get("headers") or {}}
        if response.get("status_code") == 429 or (response.get("status_code") == 503
                                                   and "retry-after" in names):
            outcome.throttled += 1
    failed = []
    for case_id, checks in (recorder.get("checks") or {}).items():
        # Shrinking replays a case in several scenarios; count each request once.
        if case_id in seen:
            continue
        seen.add(case_id)
        failures = {str(r.get("name", "")): r for r in checks if r.get("status") == "failure"}
        if failures:
            recorded = cases.get(case_id) or {}
            parent = (interactions.get(recorded.get("parent_id")) or {}).get("request")
            parent_headers = (frozenset(h.lower() for h in parent.get("headers") or {})
                              if isinstance(parent, dict) else None)
            failed.append(_FailedCase(case_id, label, str(payload.get("phase", "")), failures,
                                      recorded.get("value") or {},
                                      interactions.get(case_id) or {}, parent_headers))
    return failed


def _decode(body: Any) -> bytes | None:
    if isinstance(body, dict) and "$base64" in body:
        return base64.b64decode(body["$base64"])
    if isinstance(body, str):
        return body.encode()
    return None


def _flat_headers(headers: dict[str, Any] | None) -> dict[str, str]:
    return {k: ", ".join(v) if isinstance(v, list) else str(v) for k, v in (headers or {}).items()}


def _request_evidence(request: dict[str, Any]) -> dict[str, Any]:
    body = _decode(request.get("body"))
    return {"method": request.get("method", ""), "url": request.get("uri", ""),
            "headers": _flat_headers(request.get("headers")),
            "body": body[:BODY_EVIDENCE_BYTES].decode("utf-8", "replace") if body else None}


def _response_evidence(response: dict[str, Any] | None) -> dict[str, Any] | None:
    if not response:
        return None
    body = _decode(response.get("content")) or b""
    return {"status": response.get("status_code"), "headers": _flat_headers(response.get("headers")),
            "body": body[:BODY_EVIDENCE_BYTES].decode("utf-8", "replace"),
            "elapsed_ms": round(float(response.get("elapsed") or 0) * 1000, 1)}


def curl_command(request: dict[str, Any], plan: FuzzPlan) -> str:
    """A minimal curl replay; the token is a shell variable the assessor sets, never the value."""
    parts = ["curl", "-sS", "-X", str(request.get("method", "GET"))]
    quoted: list[str] = []
    # Files on this disk are shell variables (harness.net.tls_variables), never their paths.
    if plan.ca_bundle is not None:
        quoted.append('--cacert "$CA_BUNDLE"')
    if plan.client_cert is not None and plan.client_key is not None:
        quoted.append('--cert "$CLIENT_CERT" --key "$CLIENT_KEY"')
    for name, value in _flat_headers(request.get("headers")).items():
        if name.lower() == "authorization":
            # Double quotes so the shell expands $TOKEN (harness.net.token_variable) at replay.
            quoted.append('-H "Authorization: Bearer $TOKEN"' if "Filtered" in value
                          or value.lower().startswith("bearer") else
                          "-H " + shlex.quote(f"{name}: {value}"))
            continue
        quoted.append("-H " + shlex.quote(f"{name}: {value}"))
    body = _decode(request.get("body"))
    if body is not None:
        quoted.append("--data-binary " + shlex.quote(body.decode("utf-8", "replace")))
    return " ".join([shlex.join(parts), *quoted, shlex.quote(str(request.get("uri", "")))])
