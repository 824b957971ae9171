"""The SCN- checks, each judging the steps the suite's context recorded
(harness/suites/scenario/context.py) on the mock NPDB's audit log.

Attribution keeps one defect to one check: protocol refusals (the NPDB answering 400/401/403 to
the SUT) are judged by the credential and purpose checks, not by the outcome check; a lost dossier
is judged by FAULT-NO-LOSS, not by FAULT-RETRY.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from harness.checks import CheckResult, Evidence, Severity, check
from harness.suites.scenario.context import ScenarioContext
from harness.suites.scenario.runner import StepRun

OWN_CLIENT_ID = "city-system"
PROTOCOL_REFUSALS = frozenset({400, 401, 403})
CITIZEN_LOOKUP = "/citizens/"


# --- shared helpers --------------------------------------------------------------------------

def sut_reasons(run: StepRun) -> str:
    """The SUT's own account of its decision: the final dossier's status, outcome and reasons."""
    body = run.final_body
    if not isinstance(body, dict):
        return "the SUT gave no dossier body" if body is None else f"status body: {str(body)[:300]}"
    reasons = body.get("reasons")
    if isinstance(reasons, list) and reasons:
        said = "; ".join(str(r)[:300] for r in reasons[:5])
    else:
        said = "no reasons given"
    return f"outcome {body.get('outcome')!r}, reasons: {said}"


def _entry_line(entry: dict[str, Any]) -> str:
    return (f"#{entry.get('id')} {entry.get('method', '')} {entry.get('path', '')} "
            f"client={entry.get('client_id')} purpose={entry.get('purpose_code')} "
            f"status={entry.get('status')} fields={entry.get('fields_requested')}")


def _step_evidence(run: StepRun) -> list[Evidence]:
    evidence = []
    if run.submit is not None:
        evidence += list(run.submit.evidence())
    history = "; ".join(f"{s.at_s:g}s {s.http_status} {s.status or s.error}"
                        for s in run.history[:40])
    evidence.append(Evidence.note(history or "no status polled", title=f"{run.label} status history"))
    evidence.append(Evidence.note("\n".join(_entry_line(e) for e in run.audit[:40]) or "no calls",
                                  title=f"{run.label} NPDB audit window"))
    if run.final_body is not None:
        evidence.append(Evidence.note(json.dumps(run.final_body, ensure_ascii=False, indent=1,
                                                 default=str)[:4000],
                                      title=f"{run.label} final dossier (the SUT's status body)"))
    return evidence


def _decide(check_name: str, judged: list[StepRun], problems: list[tuple[StepRun, str]],
            errored: list[tuple[StepRun, str]], what: str) -> CheckResult:
    if problems:
        evidence: list[Evidence] = []
        for run, why in problems[:10]:
            evidence.append(Evidence.note(why, title=f"{run.label}: {check_name}"))
            evidence += _step_evidence(run)
        steps = sorted({run.label for run, _ in problems})
        return CheckResult.failed(f"{len(problems)} problem(s) in {', '.join(steps)}: "
                                  f"{problems[0][1]}", *evidence,
                                  failing_steps=float(len(steps)))
    if not judged:
        if errored:
            first, why = errored[0]
            return CheckResult.errored(
                f"no step could be judged: {first.label}: {why}",
                *[Evidence.note(why, title=run.label) for run, why in errored[:10]],
                *(_step_evidence(first) if first.submit is not None else []))
        return CheckResult.skipped(f"no step where {what} could be judged")
    notes = [Evidence.note(why, title=f"{run.label} (not judged)") for run, why in errored[:10]]
    return CheckResult.passed(f"{what}: {len(judged)} step(s) as required",
                              *notes, steps=float(len(judged)))


def _unanswered(run: StepRun) -> str | None:
    """Why the step cannot be judged because the SUT gave no HTTP answer (it hung, reset the
    connection or sent garbage): a broken SUT makes the step an error, not a finding about how
    it handles dossiers or the NPDB."""
    if run.submit is not None and run.submit.status is None:
        return f"the SUT gave no HTTP answer to the submission: {run.submit.error}"
    for sample in run.history:
        if sample.http_status is None:
            return f"the SUT gave no HTTP answer to GET dossier at {sample.at_s:g}s: {sample.error}"
    return None


def _usable(ctx: ScenarioContext) -> tuple[list[StepRun], list[tuple[StepRun, str]]]:
    """(steps to judge, (step, why not) for the steps that could not run or got no answer)."""
    ran: list[StepRun] = []
    errored: list[tuple[StepRun, str]] = []
    for run in ctx.runs:
        why = run.error or _unanswered(run)
        if why is None:
            ran.append(run)
        else:
            errored.append((run, why))
    return ran, errored


def _identified_calls(run: StepRun) -> list[dict[str, Any]]:
    """Data and token calls; the calls an injected fault answered are left out.

    The mock answers an injected fault (5xx, 429, reset, timeout, a malformed 200) before it
    authenticates the call, so those audit entries carry no client or purpose. A call the mock
    actually judged without credentials is answered 401/403 and stays in.
    """
    calls = [e for e in run.audit if str(e.get("path") or "").startswith(("/npdb/v1", "/oauth2/"))]
    if not run.faults:
        return calls
    return [e for e in calls if not (e.get("client_id") is None and e.get("purpose_code") is None
                                     and e.get("status") not in (401, 403))]


def _refused(run: StepRun) -> bool:
    return any(e.get("status") in PROTOCOL_REFUSALS for e in run.npdb_calls())


# --- checks ----------------------------------------------------------------------------------

@check("SCN-OWN-CREDENTIALS", severity=Severity.CRITICAL,
       defect="npdb.shared_credentials", timeout_s=30,
       requirements=["NPDB-CLIENT-CREDENTIALS", "NPDB-BEARER-TOKEN", "NPDB-TOKEN-GRANT",
                     "NPDB-TOKEN-CLIENT-ASSERTION", "NPDB-TOKEN-MTLS-CLIENT-ID"])
def own_credentials(ctx: ScenarioContext) -> CheckResult:
    """The SUT authenticates to the NPDB as itself (client city-system)."""
    ran, errored = _usable(ctx)
    # Public endpoints (JWKS, discovery) carry no client identity; data and token calls do.
    judged = [r for r in ran if _identified_calls(r)]
    problems = [(r, f"NPDB call made as client {e.get('client_id')!r}: {_entry_line(e)}")
                for r in judged for e in _identified_calls(r) if e.get("client_id") != OWN_CLIENT_ID]
    return _decide("own credentials", judged, problems, errored, "NPDB calls made as city-system")


@check("SCN-PURPOSE-CODE", severity=Severity.HIGH,
       defect="npdb.missing_purpose_code", timeout_s=30,
       requirements=["NPDB-PURPOSE-CODE", "SCENARIO-PURPOSE-CODE", "NPDB-PURPOSE-ALLOWED",
                     "PROC-PURPOSE-PER-PROCEDURE"])
def purpose_code(ctx: ScenarioContext) -> CheckResult:
    """Every NPDB data call carries the purpose code of the procedure being processed."""
    ran, errored = _usable(ctx)
    # Subscriptions are made in the background, not for a procedure: they carry no purpose.
    data_calls = {id(r): [e for e in _identified_calls(r)
                          if str(e.get("path") or "").startswith("/npdb/v1")
                          and "/subscriptions" not in str(e.get("path"))
                          # Calls under another client's credentials are OWN-CREDENTIALS' finding.
                          and e.get("client_id") == OWN_CLIENT_ID] for r in ran}
    judged = [r for r in ran if data_calls[id(r)]]
    problems = [(r, (f"purpose {e.get('purpose_code')!r}, expected {r.purpose_code}: "
                     f"{_entry_line(e)}"))
                for r in judged for e in data_calls[id(r)] if e.get("purpose_code") != r.purpose_code]
    return _decide("purpose code", judged, problems, errored, "purpose codes")


# RFC 9562 text form; the spec's `format: uuid` (hex digits in 8-4-4-4-12 groups)
UUID_TEXT = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


@check("SCN-REQUEST-ID", severity=Severity.MEDIUM,
       title="Every NPDB data call carries an X-Request-Id that is a UUID.",
       defect="npdb.request_id_not_uuid", timeout_s=30,
       requirements=["NPDB-REQUEST-ID"])
def request_id(ctx: ScenarioContext) -> CheckResult:
    """Every NPDB data call carries an X-Request-Id that is a UUID."""
    ran, errored = _usable(ctx)
    # As SCN-PURPOSE-CODE: calls under another client's credentials are OWN-CREDENTIALS' finding.
    data_calls = {id(r): [e for e in _identified_calls(r)
                          if str(e.get("path") or "").startswith("/npdb/v1")
                          and e.get("client_id") == OWN_CLIENT_ID] for r in ran}
    judged = [r for r in ran if data_calls[id(r)]]
    problems = []
    for run in judged:
        for entry in data_calls[id(run)]:
            value = entry.get("request_id")
            if not value:
                problems.append((run, f"no X-Request-Id: {_entry_line(entry)}"))
            elif not UUID_TEXT.fullmatch(str(value)):
                problems.append((run, (f"X-Request-Id {str(value)[:80]!r} is not a UUID: "
                                      f"{_entry_line(entry)}")))
    return _decide("request id", judged, problems, errored, "request ids")


@check("SCN-DATA-MINIMISATION", severity=Severity.HIGH,
       defect=("npdb.overfetch_fields", "npdb.overfetch_purpose_fields"), timeout_s=30,
       requirements=["NPDB-DATA-MINIMISATION", "NPDB-FIELDS-PARAM", "SCENARIO-NPDB-FIELDS",
                     "NPDB-PURPOSE-FIELDS-BIRTH",
                     "NPDB-PURPOSE-FIELDS-MARRIAGE", "NPDB-PURPOSE-FIELDS-DEATH",
                     "NPDB-PURPOSE-FIELDS-RESIDENCE-REGISTRATION", "NPDB-PURPOSE-FIELDS-RESIDENCE-REMOVAL",
                     "NPDB-PURPOSE-FIELDS-CHILD-INSURANCE", "NPDB-PURPOSE-FIELDS-FUNERAL-ALLOWANCE"])
def data_minimisation(ctx: ScenarioContext) -> CheckResult:
    """Citizen lookups request only the fields the procedure needs."""
    ran, errored = _usable(ctx)
    judged, problems = [], []
    for run in ran:
        allowed = ctx.allowed_fields.get(run.purpose_code)
        lookups = [e for e in run.npdb_calls() if str(e.get("method", "")).upper() == "GET"
                   and CITIZEN_LOOKUP in str(e.get("path", ""))
                   and not str(e.get("path", "")).rstrip("/").endswith("/residence")]
        if allowed is None or not lookups:
            continue
        judged.append(run)
        # What the step's procedure reads (scenarios/*.yaml expect.npdb.fields), never more than
        # the purpose's ceiling (purposes.yaml): asking for the ceiling is not minimal.
        needed = frozenset(run.step.expect.npdb.fields) & allowed
        for entry in lookups:
            requested = entry.get("fields_requested")
            if not requested:
                problems.append((run, (f"asked for every field the purpose allows (no fields=) "
                                       f"where {run.purpose_code} needs {sorted(needed)}: "
                                       f"{_entry_line(entry)}")))
                continue
            beyond = sorted(set(requested) - allowed)
            if beyond:
                problems.append((run, (f"asked for {beyond} beyond what purpose {run.purpose_code} "
                                       f"allows at all ({sorted(allowed)})")))
                continue
            unneeded = sorted(set(requested) - needed)
            if unneeded:
                problems.append((run, (f"asked for {unneeded}, which {run.purpose_code} does not "
                                       f"need (it reads {sorted(needed)}; the purpose's "
                                       f"{len(allowed)}-field list is a ceiling, not a quota)")))
    return _decide("data minimisation", judged, problems, errored, "field selection")


@check("SCN-CALL-BUDGET", severity=Severity.MEDIUM,
       defect="npdb.redundant_calls", timeout_s=30,
       requirements=["SCENARIO-CALL-BUDGET", "PROC-CALL-BUDGET"])
def call_budget(ctx: ScenarioContext) -> CheckResult:
    """Each fault-free step calls the NPDB no more than its procedure needs."""
    ran, errored = _usable(ctx)
    # Under faults retries are the point; their budget is SCN-FAULT-RETRY's business.
    judged = [r for r in ran if not r.faults and r.dossier_id]
    problems = [(r, f"{len(_answered(r))} NPDB calls, budget {r.step.expect.npdb.max_calls}")
                for r in judged if len(_answered(r)) > r.step.expect.npdb.max_calls]
    return _decide("call budget", judged, problems, errored, "NPDB call counts")


def _answered(run: StepRun) -> list[dict[str, Any]]:
    """The step's NPDB calls the NPDB did not refuse for protocol reasons: a call refused for
    wrong credentials or a missing purpose (and its retries, whose number depends on timing) is
    the defect of SCN-OWN-CREDENTIALS / SCN-PURPOSE-CODE, not a call the procedure spent."""
    return [e for e in run.npdb_calls() if e.get("status") not in PROTOCOL_REFUSALS]


def final_status_problem(status: str | None, body: Any) -> str | None:
    """Why a final dossier breaks specs/connection/v1 DossierStatus ("`completed`: approved.
    `rejected`: see `reasons`."), or None: completed needs outcome approved; rejected needs
    outcome rejected and the reasons to see (at least one)."""
    if status not in ("completed", "rejected"):
        return None
    said = body if isinstance(body, dict) else {}
    outcome_said, reasons = said.get("outcome"), said.get("reasons")
    if status == "completed" and outcome_said != "approved":
        return f"ended 'completed' with outcome {outcome_said!r}: completed means approved"
    if status == "rejected" and outcome_said != "rejected":
        return f"ended 'rejected' with outcome {outcome_said!r}, not 'rejected'"
    if status == "rejected" and not (isinstance(reasons, list) and reasons):
        return "ended 'rejected' without reasons: the spec says rejected, see reasons"
    return None


@check("SCN-OUTCOME", severity=Severity.HIGH,
       defect=("scenario.wrong_outcome", "scenario.completed_without_outcome",
               "scenario.not_found_approved"), timeout_s=30,
       requirements=["CONN-DOSSIER-FINAL-STATUS", "NPDB-NOT-FOUND", "SCENARIO-OUTCOME", "SCENARIO-MUST-CALL", "NPDB-VERIFY-IDENTITY",
                     "NPDB-CITIZEN-LOOKUP", "NPDB-RESIDENCE-LOOKUP", "NPDB-HOUSEHOLD-LOOKUP", "PROC-IDENTITY-VERIFIED", "PROC-BIRTH",
                     "PROC-MARRIAGE-ALREADY-MARRIED", "PROC-DEATH", "PROC-RESIDENCE-REGISTRATION",
                     "PROC-RESIDENCE-REMOVAL", "PROC-CHILD-INSURANCE", "PROC-FUNERAL-ALLOWANCE",
                     "PROC-MARRIAGE-SAME-PERSON", "PROC-MARRIAGE-LEGAL-AGE",
                     "PROC-DEATH-ALREADY-REGISTERED", "PROC-DEATH-FUTURE-DATE"])
def outcome(ctx: ScenarioContext) -> CheckResult:
    """Each dossier reaches the right final status after the required NPDB checks."""
    ran, errored = _usable(ctx)
    # Refused calls (wrong credentials or purpose) are judged by their own checks.
    judged = [r for r in ran if not r.faults and not _refused(r)]
    problems = []
    for run in judged:
        expected = run.step.expect.outcome
        if run.dossier_id is None:
            status = run.submit.status if run.submit else None
            problems.append((run, f"submission not accepted (HTTP {status})"))
        elif run.final_status != expected:
            problems.append((run, (f"ended {run.final_status!r}, expected {expected!r}; "
                                   f"the SUT's {sut_reasons(run)}")))
        elif (why := final_status_problem(run.final_status, run.final_body)) is not None:
            problems.append((run, why))
        missing = [m for m in run.step.expect.npdb.must_call
                   if not any(m in str(e.get("path", "")) for e in run.npdb_calls())]
        if missing and run.dossier_id is not None:
            problems.append((run, f"decided without calling {missing} in the NPDB"))
    return _decide("outcome", judged, problems, errored, "dossier outcomes")


def _lost(run: StepRun) -> str | None:
    """Why the dossier counts as lost, or None when it stayed retrievable throughout."""
    if run.submit is None or run.dossier_id is None:
        status = run.submit.status if run.submit else None
        return f"the submission was not accepted during the fault (HTTP {status})"
    for sample in run.history:
        if sample.http_status != 200 and sample.at_s > 0:
            return f"GET dossier answered {sample.http_status or sample.error} at {sample.at_s}s"
    if run.listed is False:
        return "the dossier is missing from the portal's dossier list"
    return None


@check("SCN-FAULT-NO-LOSS", severity=Severity.CRITICAL,
       defect="npdb.loses_dossier_on_failure", timeout_s=30,
       requirements=["CONN-DOSSIER-DURABLE"])
def fault_no_loss(ctx: ScenarioContext) -> CheckResult:
    """Dossiers stay accepted and retrievable while the NPDB fails."""
    ran, errored = _usable(ctx)
    judged = [r for r in ran if r.faults]
    problems = [(r, why) for r in judged if (why := _lost(r)) is not None]
    return _decide("no loss", judged, problems, errored, "dossier retention under faults")


@check("SCN-FAULT-RETRY", severity=Severity.HIGH,
       defect="npdb.no_retry", timeout_s=30,
       requirements=["CONN-DOSSIER-PENDING-NPDB", "SCENARIO-FAULT-TRANSIENT", "CONN-DOSSIER-LIFECYCLE",
                     "NPDB-UNAVAILABLE-RETRY", "PROC-NPDB-UNANSWERED"])
def fault_retry(ctx: ScenarioContext) -> CheckResult:
    """After transient NPDB faults the SUT retries and completes the dossier."""
    ran, errored = _usable(ctx)
    # Lost dossiers are SCN-FAULT-NO-LOSS's finding; calls the NPDB refused (bad credentials or
    # purpose) can never succeed, whatever the retries, and are judged by their own checks.
    judged = [r for r in ran if r.faults and _lost(r) is None and not _refused(r)]
    problems = []
    for run in judged:
        seen = {s.status for s in run.history if s.status}
        wrong = sorted(seen - set(run.step.expect.allowed_statuses))
        if run.final_status != run.step.expect.outcome:
            problems.append((run, (f"still {run.final_status!r} after the poll timeout; "
                                   f"expected {run.step.expect.outcome!r} once the NPDB recovered")))
        elif wrong:
            problems.append((run, f"reported status {wrong} during the fault"))
    return _decide("retry", judged, problems, errored, "recovery from transient faults")


def _timestamp(value: Any) -> float | None:
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value).timestamp()
        except ValueError:
            return None
    return None


@check("SCN-FAULT-RATE-LIMIT", severity=Severity.MEDIUM,
       defect="npdb.ignores_retry_after", timeout_s=30,
       requirements=["NPDB-RETRY-AFTER", "RFC9110-RETRY-AFTER", "SCENARIO-FAULT-RATE-LIMIT"])
def fault_rate_limit(ctx: ScenarioContext) -> CheckResult:
    """After a 429 the SUT waits the Retry-After delay before calling the NPDB again."""
    ran, errored = _usable(ctx)
    judged, problems = [], []
    for run in ran:
        limits = [f for f in run.faults if f.kind == "rate_limit"]
        calls = sorted(run.npdb_calls(), key=lambda e: int(e.get("id") or 0))
        limited = next((i for i, e in enumerate(calls) if e.get("status") == 429), None)
        if not limits or limited is None:
            continue
        judged.append(run)
        wait_s = float(calls[limited].get("retry_after_s") or limits[0].retry_after_s or 1)
        # The retry is the next call the NPDB judged about this step's people (faulted calls
        # and other dossiers' background retries carry none of them).
        retries = [e for e in calls[limited + 1:] if e.get("personal_ids")]
        if not retries:
            continue  # no retry at all: SCN-FAULT-RETRY reports it
        first, then = _timestamp(calls[limited].get("ts")), _timestamp(retries[0].get("ts"))
        if first is None or then is None:
            problems.append((run, "audit timestamps unreadable"))
        elif then - first < wait_s - 0.05:  # 50 ms for clock granularity
            problems.append((run, (f"called again {then - first:.2f} s after a 429 that asked "
                                   f"for Retry-After: {wait_s:g} s")))
    return _decide("rate limit", judged, problems, errored, "Retry-After compliance")
