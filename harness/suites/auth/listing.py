"""AUTH checks of the list operation's parameters (connection/v1 ``listDossiers``): ``limit``
honoured exactly, its default applied, out-of-range values refused, the list newest first, and
each ``status`` filter value listing exactly the matching dossiers. Judged once the portal client
owns enough dossiers: the probe tops its own dossiers up to a bounded count first.

Everything is read from the spec (the ``limit`` schema's minimum, maximum and default; the
``status`` enum), never from what the reference system does. Listed in
``harness.suites.auth.suite.SUITE``.
"""

from __future__ import annotations

import itertools
import random
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from harness.checks import CheckResult, Evidence, Severity, check
from harness.suites.auth.context import AuthContext
from harness.suites.auth.owned import OwnDossiers
from harness.suites.auth.probe import DOSSIERS_PATH, Probe, said
from harness.suites.auth.spec import connection_spec
from harness.sut.dossiers import RESIDENCE, Person, dossier_body

FILL_ABOVE_DEFAULT = 5  # own dossiers needed beyond the default page size (20 + 5 = 25)
FILL_MAX = 40  # never create more than this many dossiers, whatever the spec's default
LISTED_WAIT_S = 3.0  # a dossier just stored may take a moment to be listed
SETTLE_S = 8.0  # how long the filter check waits for its dossiers to reach a final status
RETRY_429_MAX_S = 3.0  # a 429 is waited out once, at most this long
REFUSED_INPUT = frozenset({400, 422})  # what listDossiers documents for a malformed query
FINAL = frozenset({"completed", "rejected"})  # statuses a dossier never leaves


@dataclass(frozen=True)
class LimitSchema:
    """The ``limit`` parameter of listDossiers as the spec states it."""

    minimum: int
    maximum: int
    default: int


# --- what the spec says --------------------------------------------------------------------------

def _list_operation(spec: dict[str, Any]) -> dict[str, Any]:
    return dict(((spec.get("paths") or {}).get(DOSSIERS_PATH) or {}).get("get") or {})


def _query_schema(spec: dict[str, Any], name: str) -> dict[str, Any]:
    for parameter in _list_operation(spec).get("parameters") or []:
        if isinstance(parameter, dict) and parameter.get("in") == "query" \
                and parameter.get("name") == name:
            schema = dict(parameter.get("schema") or {})
            ref = str(schema.get("$ref", ""))
            if ref.startswith("#/components/schemas/"):
                schema = dict(((spec.get("components") or {}).get("schemas") or {})
                              .get(ref.rsplit("/", 1)[-1]) or {})
            return schema
    return {}


def limit_schema(spec: dict[str, Any] | None = None) -> LimitSchema:
    schema = _query_schema(spec if spec is not None else connection_spec(), "limit")
    return LimitSchema(int(schema.get("minimum", 1)), int(schema.get("maximum", 100)),
                       int(schema.get("default", 20)))


def status_values(spec: dict[str, Any] | None = None) -> list[str]:
    schema = _query_schema(spec if spec is not None else connection_spec(), "status")
    return [str(v) for v in schema.get("enum") or []]


def fill_target(limits: LimitSchema) -> int:
    return min(FILL_MAX, limits.default + FILL_ABOVE_DEFAULT)


def out_of_range(limits: LimitSchema) -> list[str]:
    """``limit`` values the schema forbids: below the minimum, above the maximum, not integers."""
    return [str(limits.minimum - 1), str(limits.maximum + 1), "-1", "abc", "2.5"]


# --- reading a page ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Page:
    probe: Probe
    items: list[dict[str, Any]] | None  # None: not a DossierList

    @property
    def ids(self) -> list[str]:
        return [str(i.get("dossier_id")) for i in self.items or []]

    @property
    def served(self) -> bool:
        status = self.probe.exchange.status
        return self.items is not None and status is not None and 200 <= status < 300


def _retry_wait(probe: Probe) -> float | None:
    """Seconds to wait before sending again after a 429 (bounded), or None if it was no 429."""
    if probe.exchange.status != 429:
        return None
    value = probe.exchange.headers.get("retry-after", "1").strip()
    return min(RETRY_429_MAX_S, float(value)) if value.isascii() and value.isdigit() else 1.0


def list_page(ctx: AuthContext, query: str, token: str | None = None) -> Page:
    path = DOSSIERS_PATH + (f"?{query}" if query else "")
    description = f"portal listing its dossiers ({query or 'no query'})"
    probe = ctx.read(description, token or ctx.token(), path=path)
    if (wait := _retry_wait(probe)) is not None:
        time.sleep(wait)
        probe = ctx.read(description, token or ctx.token(), path=path)
    body = probe.exchange.json()
    items = body.get("items") if isinstance(body, dict) else None
    usable = isinstance(items, list) and all(isinstance(i, dict) for i in items)
    return Page(probe, [dict(i) for i in items] if usable and items is not None else None)


def _created_at(item: dict[str, Any]) -> datetime | None:
    value = item.get("created_at")
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def order_problem(page: Page) -> str | None:
    """Where the page is not newest first (``created_at`` increasing between neighbours)."""
    items = page.items or []
    for before, after in itertools.pairwise(items):
        newer, older = _created_at(before), _created_at(after)
        if newer is not None and older is not None and older > newer:
            return (f"{before.get('dossier_id')} (created {before.get('created_at')}) is listed "
                    f"before the newer {after.get('dossier_id')} (created {after.get('created_at')})")
    return None


def prefix_problem(page: Page, full: Page) -> str | None:
    """The page must hold the newest ``len(page)`` dossiers of the full list; dossiers created at
    the same instant as the last one may stand in for each other."""
    n = len(page.ids)
    if n == 0 or page.ids == full.ids[:n]:
        return None
    if n > len(full.ids):
        return f"it lists {n} dossiers, more than the {len(full.ids)} of the full list"
    by_id = {str(i.get("dossier_id")): i for i in full.items or []}
    boundary = _created_at(by_id[full.ids[n - 1]])
    if boundary is None:
        return f"it lists {page.ids[:5]}…, not the newest {n} of the full list {full.ids[:5]}…"
    must = {i for i in full.ids[:n] if _created_at(by_id[i]) != boundary}
    may = {i for i in full.ids if _created_at(by_id[i]) == boundary}
    missing, extra = sorted(must - set(page.ids)), sorted(set(page.ids) - must - may)
    if missing or extra:
        return (f"it is not the newest {n} of the caller's dossiers"
                + (f": newer dossiers left out {missing[:3]}" if missing else "")
                + (f": dossiers outside the newest {n} listed {extra[:3]}" if extra else ""))
    return None


# --- enough data ---------------------------------------------------------------------------------

def _fill_body(ctx: AuthContext, index: int) -> dict[str, Any]:
    """A valid submission; every fourth names its applicant with a wrong date of birth, so the
    NPDB check rejects it and the list holds more than one final status."""
    if index % 4 != 3 or not ctx.people:
        return ctx.dossier_body(index)
    person = ctx.people[index % len(ctx.people)]
    wrong = Person(person.personal_id, person.full_name, "1901-01-01", person.gender)
    return dossier_body(RESIDENCE, wrong, random.Random(ctx.run.seed + index))


def own_dossiers(ctx: AuthContext) -> OwnDossiers:
    """The portal's dossiers, topped up by submissions (bounded) so that more exist than the
    default page holds; made once and reused by every list check."""
    if ctx.state.list_fill is not None:
        return ctx.state.list_fill
    limits = limit_schema()
    needed = fill_target(limits)
    first = list_page(ctx, f"limit={limits.maximum}")
    if not first.served:
        return OwnDossiers((), frozenset(), first.probe)
    created: list[str] = []
    token = ctx.token()
    for index in range(max(0, needed - len(set(first.ids)))):
        description = "portal submitting a dossier so that its list holds enough dossiers"
        body = _fill_body(ctx, index)
        probe = ctx.post(description, token, body)
        if (wait := _retry_wait(probe)) is not None:
            time.sleep(wait)
            probe = ctx.post(description, token, body)
        answer = probe.exchange.json()
        dossier_id = answer.get("dossier_id") if isinstance(answer, dict) else None
        if probe.exchange.status != 201 or not isinstance(dossier_id, str):
            return OwnDossiers(tuple(created), frozenset(first.ids) | set(created), probe)
        created.append(dossier_id)
    fill = OwnDossiers(tuple(created), frozenset(first.ids) | frozenset(created))
    ctx.state.list_fill = fill
    return fill


def full_list(ctx: AuthContext, fill: OwnDossiers, *, settle_s: float = 0.0) -> Page:
    """The largest page, once it shows every dossier the fill created (and, with ``settle_s``,
    once those reached a final status), or at the deadline."""
    limits = limit_schema()
    deadline = time.monotonic() + max(LISTED_WAIT_S, settle_s)
    pause = 0.1  # a compliant SUT settles within moments: look again soon, then less often
    while True:
        page = list_page(ctx, f"limit={limits.maximum}")
        statuses = {str(i.get("dossier_id")): i.get("status") for i in page.items or []}
        listed = all(c in statuses for c in fill.created) or len(page.ids) >= limits.maximum
        settled = not settle_s or all(statuses.get(c) in FINAL for c in fill.created
                                      if c in statuses)
        if not page.served or (listed and settled) or time.monotonic() > deadline:
            return page
        time.sleep(pause)
        pause = min(0.5, pause * 2)


def _not_enough(fill: OwnDossiers, needed: int) -> CheckResult:
    if fill.problem is not None:
        return CheckResult.errored(
            f"could not give the portal client {needed} dossiers to list "
            f"({fill.problem.description} → {said(fill.problem.exchange)})", *fill.problem.evidence())
    return CheckResult.errored(f"the portal client owns only {len(fill.known)} dossiers, "
                               f"{needed} are needed to judge the list")


def _refusal_problems(ctx: AuthContext, queries: list[str]) -> tuple[list[tuple[str, Probe]],
                                                                      Probe | None]:
    """Each malformed query must be refused with a documented 400 or 422."""
    problems: list[tuple[str, Probe]] = []
    for query in queries:
        page = list_page(ctx, query)
        ex = page.probe.exchange
        if ex.error is not None or ex.status is None or ex.status == 429:
            return problems, page.probe
        if ex.status not in REFUSED_INPUT:
            verb = ("accepted" if 200 <= ex.status < 300 else "answered")
            problems.append(((f"{query} was {verb} (HTTP {ex.status}) where the schema forbids it: "
                             "400 or 422 expected"), page.probe))
    return problems, None


# --- checks --------------------------------------------------------------------------------------

def _undecided(probe: Probe) -> CheckResult:
    """A list request the checks could not judge: its answer, as evidence."""
    return CheckResult.errored(f"could not decide: {probe.description} → {said(probe.exchange)}",
                               *probe.evidence())


def _listed(ctx: AuthContext, *, settle_s: float = 0.0
            ) -> tuple[LimitSchema, OwnDossiers, Page] | CheckResult:
    """What every list check starts from: the limit schema, the portal's dossiers (enough to
    judge the list) and the largest page of them; or why the check cannot judge."""
    if (problem := ctx.baseline_problem()) is not None:
        return problem
    limits = limit_schema()
    needed = fill_target(limits)
    fill = own_dossiers(ctx)
    if not fill.enough(needed):
        return _not_enough(fill, needed)
    full = full_list(ctx, fill, settle_s=settle_s)
    if not full.served:
        return _undecided(full.probe)
    return limits, fill, full


def _failed(problems: list[tuple[str, Probe]], title: str, *more: Evidence) -> CheckResult:
    """The findings of a list check: the first in the summary, each as a note (up to 10), the
    exchanges of the first three."""
    return CheckResult.failed(
        f"{problems[0][0]}" + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""),
        *[Evidence.note(why, title=title) for why, _ in problems[:10]],
        *[e for _, probe in problems[:3] for e in probe.evidence()], *more,
        findings=float(len(problems)))


@check("AUTH-LIST-LIMIT", severity=Severity.MEDIUM,
       title="The dossier list honours limit exactly, applies its default, refuses out-of-range "
             "values and lists newest first.",
       requirements=["CONN-LIST-LIMIT", "CONN-LIST-LIMIT-DEFAULT", "CONN-LIST-LIMIT-BOUNDS",
                     "CONN-LIST-NEWEST-FIRST"],
       defect=("auth.list_limit_capped", "auth.list_limit_unchecked", "auth.list_oldest_first"),
       timeout_s=90)
def list_limit(ctx: AuthContext) -> CheckResult:
    """The dossier list honours limit exactly, applies its default, refuses out-of-range values
    and lists newest first."""
    if isinstance(listed := _listed(ctx), CheckResult):
        return listed
    limits, fill, full = listed
    known = len(fill.known | set(full.ids))
    problems: list[tuple[str, Probe]] = []
    if len(full.ids) > limits.maximum or len(full.ids) < min(limits.maximum, known):
        problems.append(((f"limit={limits.maximum} listed {len(full.ids)} dossiers while the caller "
                         f"owns at least {known}"), full.probe))
    queries = [(f"limit={k}", k) for k in (limits.minimum, 7, limits.default + 1)]
    queries.append(("", limits.default))  # no limit: the default applies
    pages = [full]
    for query, expected in queries:
        page = list_page(ctx, query)
        pages.append(page)
        if not page.served:
            return _undecided(page.probe)
        what = query or f"no limit (default {limits.default})"
        if len(page.ids) != expected:
            problems.append(((f"{what} listed {len(page.ids)} dossiers where exactly {expected} were "
                             f"expected (the caller owns at least {known})"), page.probe))
        elif (why := prefix_problem(page, full)) is not None:
            problems.append((f"{what}: {why}", page.probe))
    for page in pages:
        if (why := order_problem(page)) is not None:
            problems.append((f"not newest first ({page.probe.description}): {why}", page.probe))
            break
    refusals, undecided = _refusal_problems(ctx, [f"limit={v}" for v in out_of_range(limits)])
    problems += refusals
    if problems:
        return _failed(problems, "list finding")
    if undecided is not None:
        return _undecided(undecided)
    return CheckResult.passed(
        f"with at least {known} own dossiers: limit {limits.minimum}, 7 and {limits.default + 1} "
        f"listed exactly that many, no limit listed {limits.default}, limit={limits.maximum} "
        f"listed {len(full.ids)}, newest first; limit values {', '.join(out_of_range(limits))} "
        "refused", *full.probe.evidence(),
        Evidence.measurement("own dossiers", known, "dossiers"),
        Evidence.measurement("dossiers created for the probe", len(fill.created), "dossiers",
                             limit=FILL_MAX),
        own_dossiers=float(known))


@check("AUTH-LIST-FILTERS", severity=Severity.MEDIUM,
       title="Each status filter of the dossier list lists exactly the caller's dossiers with "
             "that status, and an unknown status value is refused.",
       requirements=["CONN-LIST-STATUS-FILTER"],
       defect="auth.list_filter_ignored", timeout_s=90)
def list_filters(ctx: AuthContext) -> CheckResult:
    """Each status filter of the dossier list lists exactly the caller's dossiers with that
    status, and an unknown status value is refused."""
    if isinstance(listed := _listed(ctx, settle_s=SETTLE_S), CheckResult):
        return listed
    limits, _, full = listed
    problems: list[tuple[str, Probe]] = []
    counts: dict[str, int] = {}
    for value in status_values():
        page = list_page(ctx, f"status={value}&limit={limits.maximum}")
        if not page.served:
            return _undecided(page.probe)
        counts[value] = len(page.ids)
        wrong = [i for i in page.items or [] if i.get("status") != value]
        if wrong:
            problems.append(((f"status={value} listed {len(wrong)} dossier(s) with another status, "
                             f"e.g. {wrong[0].get('dossier_id')} ({wrong[0].get('status')!r})"),
                             page.probe))
        if value not in FINAL:
            continue  # a dossier on its way may leave this status between the two requests
        oldest = min((c for i in page.items or [] if (c := _created_at(i)) is not None),
                     default=None)
        # A full page holds the newest `maximum` of that status: only dossiers strictly newer
        # than its oldest must be in it (one created at the same instant may stand outside).
        full_page = len(page.ids) >= limits.maximum
        missing = [i.get("dossier_id") for i in full.items or [] if i.get("status") == value
                   and str(i.get("dossier_id")) not in set(page.ids)
                   and (not full_page or oldest is None
                        or ((c := _created_at(i)) is not None and c > oldest))]
        if missing:
            problems.append(((f"status={value} left out {len(missing)} dossier(s) the unfiltered list "
                             f"shows as {value!r}, e.g. {missing[0]}"), page.probe))
    refusals, undecided = _refusal_problems(ctx, ["status=unknown-status"])
    problems += refusals
    if problems:
        return _failed(problems, "filter finding", Evidence.note(
            ", ".join(f"{i.get('dossier_id')}: {i.get('status')}" for i in (full.items or [])[:40]),
            title="unfiltered list"))
    if undecided is not None:
        return _undecided(undecided)
    shown = ", ".join(f"{v}: {n}" for v, n in counts.items())
    return CheckResult.passed(
        f"each of {len(counts)} status filters listed only matching dossiers and every final one "
        f"the unfiltered list shows ({shown}); status=unknown-status refused",
        *full.probe.evidence(), filters=float(len(counts)))
