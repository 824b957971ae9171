"""The SAST checks: bandit, popcert's TLS rule and the secrets scan, judged against the baseline.

The context (harness/suites/sast/context.py) shares one inventory and one Python analysis; a file
no check could analyse fails each check unless the baseline excludes it.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from harness.checks import CheckResult, Evidence, Severity, ShellVariable, Status, check
from harness.suites.sast.bandit import CodeFinding, level_at_least
from harness.suites.sast.context import SastContext
from harness.suites.sast.files import Skipped
from harness.suites.sast.secrets import scan_secrets

MAX_FINDINGS_IN_EVIDENCE = 200  # a vendor tree can produce thousands; the count is still exact
SOURCE_DIR = ShellVariable("SOURCE_DIR", "the system's source folder (source.path in the run "
                           "config), when it is not under the folder popcert ran in", "")


def _portable(path: Path) -> str:
    """The source folder relative to where popcert ran (the repository root, as in SARIF), else
    "$SOURCE_DIR": a reproduction names no path of the assessor's disk."""
    try:
        return shlex.quote(str(Path(path).resolve().relative_to(Path.cwd().resolve())) or ".")
    except ValueError:
        return '"$SOURCE_DIR"'


def _finding_evidence(finding: CodeFinding, accepted_reason: str | None = None) -> Evidence:
    extra = {"severity": finding.severity, "confidence": finding.confidence,
             "fingerprint": finding.fingerprint, "name": finding.name}
    if accepted_reason is not None:
        extra["accepted"] = accepted_reason
    return Evidence.finding(finding.relative, finding.line, finding.rule, finding.message,
                            title=f"{finding.rule} {finding.relative}:{finding.line}", **extra)


def _judge(ctx: SastContext, findings: list[CodeFinding], what: str,
           *context_evidence: Evidence) -> CheckResult:
    new, accepted = ctx.baseline.partition(findings)
    evidence = list(context_evidence)
    evidence += [_finding_evidence(f) for f in new[:MAX_FINDINGS_IN_EVIDENCE]]
    evidence += [_finding_evidence(f, reason) for f, reason in accepted[:MAX_FINDINGS_IN_EVIDENCE]]
    if len(new) > MAX_FINDINGS_IN_EVIDENCE:
        evidence.append(Evidence.note(f"{len(new) - MAX_FINDINGS_IN_EVIDENCE} more findings "
                                      "not shown"))
    counts = {"findings": float(len(new)), "accepted": float(len(accepted))}
    if not new:
        tail = f" ({len(accepted)} accepted in the baseline)" if accepted else ""
        return CheckResult.passed(f"no {what}{tail}", *evidence, **counts)
    first = new[0]
    return CheckResult.failed(f"{len(new)} {what}, first {first.relative}:{first.line} "
                              f"{first.rule}: {first.message}", *evidence, **counts)


def _not_analysed(ctx: SastContext, extra: tuple[tuple[str, str], ...] = ()
                  ) -> tuple[list[Skipped], list[Evidence]]:
    """Python files no check analysed and the baseline does not excuse, plus evidence for all."""
    files = ctx.files()
    skipped = list(files.not_analysed) + [Skipped(name, why, True) for name, why in extra
                                          if all(name != s.relative for s in files.not_analysed)]
    if not skipped:
        return [], []
    blocking = [s for s in skipped if s.python and ctx.baseline.exclusion(s.relative) is None]
    excused = [(s, ctx.baseline.exclusion(s.relative)) for s in skipped
               if s.python and ctx.baseline.exclusion(s.relative) is not None]
    listed = "; ".join(f"{s.relative} ({s.reason})" for s in skipped[:50])
    more = f"; and {len(skipped) - 50} more" if len(skipped) > 50 else ""
    evidence = [Evidence.note(f"{len(skipped)} file(s) not analysed: {listed}{more}",
                              title="not analysed")]
    evidence += [Evidence.note(f"{s.relative}: {s.reason}; excluded by the baseline: {reason}",
                               title="excluded by the baseline") for s, reason in excused[:50]]
    return blocking, evidence


def _judge_with_skipped(ctx: SastContext, findings: list[CodeFinding], what: str,
                        blocking: list[Skipped], *context_evidence: Evidence) -> CheckResult:
    """Findings decide first; otherwise an unanalysed Python file the baseline does not excuse
    fails the check (a vendor must not pass by making a file too large or unparseable)."""
    result = _judge(ctx, findings, what, *context_evidence)
    if not blocking:
        return result
    if result.status != Status.PASS:
        return CheckResult.failed(
            f"{result.summary} (and {len(blocking)} Python file(s) not analysed)",
            *result.evidence, not_analysed=float(len(blocking)), **result.measurements)
    first = blocking[0]
    return CheckResult.failed(
        f"{len(blocking)} Python file(s) could not be analysed, first {first.relative} "
        f"({first.reason}); fix them or exclude them in the baseline with a reason",
        *result.evidence, not_analysed=float(len(blocking)), **result.measurements)


@check("SAST-BANDIT", severity=Severity.HIGH,
       requirements=["PROFILE-SAST-FLOOR"],
       defect="sast.verify_false")
def bandit_clean(ctx: SastContext) -> CheckResult:
    """Bandit finds no security issue at or above the profile's thresholds."""
    analysis = ctx.python()
    relevant = [f for f in analysis.bandit if level_at_least(f.severity, ctx.min_severity)
                and level_at_least(f.confidence, ctx.min_confidence)]
    blocking, notes = _not_analysed(ctx, analysis.skipped)
    evidence = [Evidence.measurement("python_files_scanned", analysis.files_scanned),
                Evidence.measurement("findings_below_threshold",
                                     len(analysis.bandit) - len(relevant)),
                *notes,
                Evidence.reproduction(f"bandit -r {_portable(ctx.source_path)} --severity-level "
                                      f"{ctx.min_severity} --confidence-level {ctx.min_confidence}",
                                      variables=[SOURCE_DIR])]
    return _judge_with_skipped(ctx, relevant, "bandit finding(s) at or above "
                               f"{ctx.min_severity}/{ctx.min_confidence}", blocking, *evidence)


@check("SAST-TLS-VERIFY", severity=Severity.HIGH,
       requirements=["CWE-295", "CWE-297"],
       defect=("sast.verify_false", "sast.tls_verify_session", "sast.tls_verify_dodged"))
def tls_verification_kept(ctx: SastContext) -> CheckResult:
    """No code path turns TLS verification off (popcert's AST rule, beyond bandit's B501)."""
    analysis = ctx.python()
    failing = [f for f in analysis.tls if f.severity != "info"]
    info = [f for f in analysis.tls if f.severity == "info"]
    blocking, notes = _not_analysed(ctx, analysis.skipped)
    evidence = [Evidence.measurement("python_files_scanned", analysis.files_scanned), *notes]
    evidence += [Evidence.note(f"{f.relative}:{f.line} {f.message}", title=f"info: {f.rule}")
                 for f in info[:50]]
    return _judge_with_skipped(ctx, failing, "place(s) where TLS verification is switched off",
                               blocking, *evidence)


@check("SAST-SECRETS", severity=Severity.CRITICAL,
       requirements=["CWE-798"],
       defect="sast.hardcoded_secret")
def no_hardcoded_secrets(ctx: SastContext) -> CheckResult:
    """No secret is hard-coded in the source tree."""
    files = ctx.files()
    findings, allowlisted = scan_secrets(files, ctx.secrets_allowlist)
    blocking, notes = _not_analysed(ctx)
    evidence = [Evidence.measurement("files_scanned", len(files.files) - len(allowlisted)),
                *notes]
    if allowlisted:
        evidence.append(Evidence.note(f"{len(allowlisted)} test-fixture file(s) allowlisted: "
                                      + ", ".join(allowlisted[:30])))
    return _judge_with_skipped(ctx, findings, "hard-coded secret(s)", blocking, *evidence)
