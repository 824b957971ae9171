"""AUTH check of the dossier ids the SUT assigns: specs/connection/v1 ``Dossier.dossier_id`` is
``format: uuid``, "Unguessable identifier (UUID v4)". A few dossiers are submitted and their ids
judged: each an RFC 9562 version-4 UUID (version nibble 4, variant bits 10), and no two of them
close as numbers (a counter dressed as v4 is guessable: the next id is the last + 1).
Listed in ``harness.suites.auth.suite.SUITE``.
"""

from __future__ import annotations

import itertools
import uuid

from harness.checks import CheckResult, Evidence, Severity, check
from harness.suites.auth.context import AuthContext
from harness.suites.auth.probe import Probe

SAMPLES = 3  # dossiers submitted (the shared one plus two): bounded, and enough to see a counter
# 122 random bits: two v4 ids closer than 2**64 happen with probability ~2**-57. A counter, a
# timestamp-ordered id (v1, v6, v7) or an id made of a small database key is much closer.
MIN_DISTANCE = 1 << 64
_RANDOM_BITS = ~((0xF << 76) | (0x3 << 62)) & ((1 << 128) - 1)  # version and variant bits off


def id_problem(value: object) -> str | None:
    """Why ``value`` is not a version-4 UUID in its textual form, or None."""
    if not isinstance(value, str):
        return f"dossier_id {value!r} is not a string"
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        return f"dossier_id {value[:80]!r} is not a UUID"
    if len(value) != 36 or value.count("-") != 4:
        return f"dossier_id {value[:80]!r} is not in the UUID's textual form (8-4-4-4-12)"
    if parsed.variant != uuid.RFC_4122:
        return f"dossier_id {value} has variant {parsed.variant}, not RFC 9562's (10xx)"
    if parsed.version != 4:
        return f"dossier_id {value} is a version-{parsed.version} UUID, not version 4 (random)"
    return None


def guessable(ids: list[str]) -> str | None:
    """Why a set of valid v4 ids is guessable (repeated, or two of them close as numbers)."""
    if len(set(ids)) != len(ids):
        return f"the SUT assigned the same dossier_id twice: {ids}"
    values = sorted(uuid.UUID(i).int & _RANDOM_BITS for i in ids)
    for low, high in itertools.pairwise(values):
        if high - low < MIN_DISTANCE:
            return (f"dossier ids {ids} are sequential: two differ by {high - low} in their "
                    f"random bits (random v4 ids differ by far more than 2^64)")
    return None


@check("AUTH-DOSSIER-ID", severity=Severity.MEDIUM,
       requirements=["CONN-DOSSIER-ID-UUID4", "OWASP-API1-2023"],
       defect="auth.sequential_dossier_id",
       title="The dossier ids the system assigns are RFC 9562 version-4 UUIDs (version 4, variant "
             "10) and are not sequential, as the spec's unguessable identifier requires.")
def dossier_id(ctx: AuthContext) -> CheckResult:
    """Three dossiers submitted with a portal token: each dossier_id is a version-4 UUID and no
    two are close as numbers."""
    if (problem := ctx.baseline_problem()) is not None:
        return problem
    probes: list[Probe] = []
    ids: list[str] = []
    first_id, first = ctx.own_dossier()
    probes.append(first)
    if first_id is not None:
        ids.append(first_id)
    token = ctx.token()
    for index in range(1, SAMPLES):
        if len(ids) != len(probes):
            break
        probe = ctx.post(f"valid dossier {index + 1} of {SAMPLES} submitted to read its id", token,
                         ctx.dossier_body(40 + index))
        probes.append(probe)
        body = probe.exchange.json()
        if probe.exchange.status in (200, 201) and isinstance(body, dict) and "dossier_id" in body:
            ids.append(body["dossier_id"])
    if len(ids) != len(probes):
        return CheckResult.errored("a dossier submission was not accepted, so there are no ids "
                                   "to judge", *probes[-1].evidence())
    evidence = [Evidence.note("\n".join(str(i) for i in ids), title="dossier ids assigned")]
    for probe, value in zip(probes, ids, strict=True):
        if (why := id_problem(value)) is not None:
            return CheckResult.failed(why, *probe.evidence(), *evidence)
    if (why := guessable(ids)) is not None:
        return CheckResult.failed(why, *(e for p in probes for e in p.evidence()), *evidence)
    return CheckResult.passed(f"{len(ids)} dossier ids are random version-4 UUIDs", *evidence,
                              *(e for p in probes for e in p.evidence()), ids=float(len(ids)))
