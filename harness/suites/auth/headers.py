"""AUTH-RESPONSE-HEADERS: the response headers connection/v1 documents are sent where their
status is returned, in the documented format (``Location`` on createDossier's 201,
``WWW-Authenticate`` on 401, ``Retry-After`` as whole seconds on 429 and 503), and those responses
carry their documented ``application/json`` body. Listed in ``harness.suites.auth.suite.SUITE``.

Location is compared, never followed: it may name any host, and popcert sends nothing outside
the run's scope. Whether the dossier it names is readable is CONF-STATEFUL's business.
"""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

from harness.checks import CheckResult, Evidence, Severity, check
from harness.suites.auth.context import AuthContext
from harness.suites.auth.notify import new_event
from harness.suites.auth.probe import DOSSIERS_PATH, NOTIFICATIONS_PATH, Probe, said

JSON = "application/json"
# RFC 9110 §11.6.1: challenge = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
AUTH_SCHEME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


def challenge_schemes(value: str) -> list[str]:
    """The auth-schemes of a WWW-Authenticate value (challenges are comma separated, and so are
    their parameters: a scheme is the first token of an element that is not ``name=value``)."""
    schemes = []
    for element in value.split(","):
        first = element.strip().split(" ", 1)[0]
        if first and "=" not in first and AUTH_SCHEME.match(first):
            schemes.append(first)
    return schemes


def location_problem(probe: Probe, expected_path: str) -> str | None:
    """Why the 201's Location does not name the new dossier, or None when it does."""
    location = probe.exchange.headers.get("location")
    if location is None:
        return "the 201 of createDossier has no Location header"
    resolved = urlsplit(urljoin(probe.exchange.url, location.strip()))
    if resolved.scheme not in ("http", "https") or resolved.path.rstrip("/") != expected_path:
        return (f"the 201's Location {location!r} does not name the new dossier "
                f"({expected_path}, absolute or relative to the request URL)")
    return None


def retry_after_problem(probe: Probe) -> str | None:
    status = probe.exchange.status
    if status not in (429, 503):
        return None
    value = probe.exchange.headers.get("retry-after")
    if value is None:
        return f"HTTP {status} without Retry-After"
    if not (value.strip().isascii() and value.strip().isdigit()):
        return f"HTTP {status} with Retry-After {value!r}, not a whole number of seconds"
    return None


def _json_problem(probe: Probe, what: str) -> str | None:
    if probe.exchange.content_type != JSON:
        return (f"{what} has Content-Type {probe.exchange.headers.get('content-type')!r} where "
                f"the spec documents {JSON}")
    return None


@check("AUTH-RESPONSE-HEADERS", severity=Severity.MEDIUM,
       title="Every response header the connection API documents is sent with its status in the "
             "documented format: Location on 201, WWW-Authenticate on 401, Retry-After on 429 "
             "and 503.",
       requirements=["CONN-LOCATION-HEADER", "CONN-WWW-AUTHENTICATE", "CONN-RETRY-AFTER-HEADER",
                     "CONN-OPENAPI-MEDIA-TYPE"],
       defect=("auth.location_missing", "auth.challenge_missing"), timeout_s=60)
def response_headers(ctx: AuthContext) -> CheckResult:
    """Every response header the connection API documents is sent with its status in the
    documented format: Location on 201, WWW-Authenticate on 401, Retry-After on 429 and 503."""
    if (problem := ctx.baseline_problem()) is not None:
        return problem
    dossier_id, created = ctx.own_dossier()
    if dossier_id is None:
        return CheckResult.errored(f"could not create a dossier to read its 201 "
                                   f"({said(created.exchange)})", *created.evidence())
    problems: list[tuple[str, Probe]] = []
    notes: list[str] = []
    expected_path = urlsplit(ctx.url(f"{DOSSIERS_PATH}/{dossier_id}")).path.rstrip("/")
    if created.exchange.status != 201:  # another 2xx is CONF-STATUS-CODE's finding
        notes.append(f"createDossier answered HTTP {created.exchange.status}, not the documented "
                     "201: its Location is not judged here")
    else:
        if (why := location_problem(created, expected_path)) is not None:
            problems.append((why, created))
        if (why := _json_problem(created, "the 201 of createDossier")) is not None:
            problems.append((why, created))

    no_token = ctx.read("listing dossiers without a bearer token", None)
    unsigned = ctx.post("notification without X-NPDB-Signature", None, None,
                        path=NOTIFICATIONS_PATH, raw=new_event(ctx))
    probes = [created, no_token, unsigned]
    for probe, bearer in ((no_token, True), (unsigned, False)):
        ex = probe.exchange
        if ex.error is not None or ex.status is None:
            return CheckResult.errored(f"could not decide: {probe.description} → {said(ex)}",
                                       *probe.evidence())
        if ex.status != 401:  # refusing it is AUTH-TOKEN-MISSING's / AUTH-NOTIFY-SIGNATURE's rule
            notes.append(f"{probe.description} → HTTP {ex.status}, not 401: its 401 headers "
                         "are not judged here")
            continue
        challenge = ex.headers.get("www-authenticate")
        schemes = challenge_schemes(challenge or "")
        if not schemes:
            problems.append((f"{probe.description} → 401 "
                             + ("without WWW-Authenticate" if challenge is None
                                else f"with WWW-Authenticate {challenge!r}, no challenge"), probe))
        elif bearer and "bearer" not in {s.lower() for s in schemes}:
            problems.append(((f"{probe.description} → 401 with WWW-Authenticate {challenge!r}: "
                             "no Bearer challenge for a bearer-token operation"), probe))
        if (why := _json_problem(probe, f"the 401 to {probe.description}")) is not None:
            problems.append((why, probe))
    limited = [p for p in probes if p.exchange.status in (429, 503)]
    problems += [(why, p) for p in limited if (why := retry_after_problem(p)) is not None]
    if not limited:
        notes.append("no 429 or 503 was returned to these requests: their Retry-After is judged "
                     "where they happen (AUTH-RATE-LIMIT's burst, the fuzzing's response headers)")
    if problems:
        return CheckResult.failed(
            problems[0][0] + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""),
            *[Evidence.note(why, title="header finding") for why, _ in problems[:10]],
            *[e for _, probe in problems[:3] for e in probe.evidence()],
            findings=float(len(problems)))
    location = (f"201 Location {created.exchange.headers.get('location')!r} names the new "
                "dossier; " if created.exchange.status == 201 else "")
    return CheckResult.passed(
        f"{location}401 carries WWW-Authenticate "
        f"{no_token.exchange.headers.get('www-authenticate')!r}; documented bodies are {JSON}",
        *created.evidence(), *no_token.evidence(),
        *[Evidence.note(n, title="not judged here") for n in notes],
        responses=float(len(probes)))
