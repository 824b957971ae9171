"""Every built-in check of the installed schemathesis: on (judged by a popcert check) or off (why).

One table, read by the runner (which checks ``st run --checks`` switches on) and by the mapping
(which popcert check a failure belongs to). tests/unit/test_conformance_builtin_checks.py fails
when the installed schemathesis offers a check this table does not name, so a schemathesis upgrade
cannot add (or drop) a check silently: someone decides, here, with a reason.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class BuiltinCheck:
    """A schemathesis check and what popcert does with it."""

    name: str  # the schemathesis check name, as ``st run --checks`` spells it
    check_id: str | None  # the popcert check judging its failures; None: off
    reason: str  # why it is on (the rule it enforces) or why it is off

    @property
    def on(self) -> bool:
        return self.check_id is not None


TABLE: tuple[BuiltinCheck, ...] = (
    BuiltinCheck("not_a_server_error", "CONF-SERVER-ERRORS",
                 "no operation documents a 5xx other than 503 back-pressure"),
    BuiltinCheck("status_code_conformance", "CONF-STATUS-CODE",
                 "every status must be one the operation documents"),
    BuiltinCheck("content_type_conformance", "CONF-CONTENT-TYPE",
                 "every response carries its documented media type"),
    BuiltinCheck("response_headers_conformance", "CONF-RESPONSE-SCHEMA",
                 "documented response headers are part of the response's schema"),
    BuiltinCheck("response_schema_conformance", "CONF-RESPONSE-SCHEMA",
                 "response bodies match the documented schemas"),
    BuiltinCheck("negative_data_rejection", "CONF-NEGATIVE-DATA",
                 "input that violates the schema is refused (400/422)"),
    BuiltinCheck("positive_data_acceptance", "CONF-POSITIVE-DATA",
                 "422 is documented only for JSON that does not match the schema and 400 only for "
                 "a malformed request: input that matches the schema is not refused as invalid"),
    BuiltinCheck("missing_required_header", "CONF-MISSING-HEADER",
                 "a request without its bearer token is refused with 401 (the Unauthorized "
                 "response: 'Missing, invalid or expired token'); the only other required header "
                 "(X-NPDB-Signature) is on the webhook, which the fuzzing leaves out"),
    BuiltinCheck("ignored_auth", "CONF-AUTH-IGNORED",
                 "every bearer-protected operation refuses missing or invalid credentials"),
    BuiltinCheck("use_after_free", "CONF-STATEFUL",
                 "kept on although connection/v1 documents no DELETE (it cannot fire today; a "
                 "later spec version with a DELETE gets it without a change here)"),
    BuiltinCheck("ensure_resource_availability", "CONF-STATEFUL",
                 "a created dossier is readable through the createDossier -> getDossier link"),
    BuiltinCheck("max_response_time", "CONF-RESPONSE-TIME",
                 "the profile's max_response_time_ms; switched on by --max-response-time when the "
                 "profile sets it (CONF-RESPONSE-TIME is skip otherwise)"),
    BuiltinCheck("unsupported_method", None,
                 "covered by AUTH-UNDOCUMENTED-METHOD (auth suite), which sends every method a path "
                 "does not document, accepts what the spec allows (405, or 401/403/404, never 2xx) "
                 "and also asserts the state is unchanged (the dossier is still there). "
                 "schemathesis' check also fails a 405 without an Allow header, a rule of RFC 9110 "
                 "that connection/v1 does not state. The coverage phase still sends these methods: "
                 "a 5xx to them fails CONF-SERVER-ERRORS"),
    BuiltinCheck("allow_header_conformance", None,
                 "compares the Allow header of an OPTIONS answer with the documented methods; "
                 "connection/v1 documents no OPTIONS and no Allow header, so a framework's default "
                 "OPTIONS answer (CORS middleware, HEAD listed) would be a FAIL no written rule "
                 "supports. A method actually served that the spec does not document is "
                 "AUTH-UNDOCUMENTED-METHOD's"),
    BuiltinCheck("object_level_authorization", None,
                 "needs two or more identities (a Web Fuzzing Commons auth file); the fuzzing runs "
                 "as one portal client. Object-level access is AUTH-OBJECT-LEVEL's and "
                 "AUTH-BOLA-LIST's, which read another client's dossier and require the documented "
                 "404 exactly (schemathesis' check fails only when the body leaks)"),
)

BY_NAME: dict[str, BuiltinCheck] = {c.name: c for c in TABLE}
# schemathesis check name -> popcert check id, for the checks that are on
CHECK_IDS: dict[str, str] = {c.name: c.check_id for c in TABLE if c.check_id is not None}
# --max-response-time switches this one on (a limit, not a name in --checks).
FLAG_CHECKS = frozenset({"max_response_time"})
# The --checks allow-list: every check that is on, in table order.
ENABLED: tuple[str, ...] = tuple(c.name for c in TABLE if c.on and c.name not in FLAG_CHECKS)


def installed_check_names() -> frozenset[str]:
    """The built-in checks the installed schemathesis offers (imports schemathesis: tests only,
    or the child; popcert itself never needs it in-process)."""
    import dataclasses

    from schemathesis.checks import CHECKS, load_all_checks
    from schemathesis.config import ChecksConfig

    load_all_checks()
    configured = {f.name for f in dataclasses.fields(ChecksConfig) if not f.name.startswith("_")}
    return frozenset(CHECKS.get_all_names()) | configured


def undecided(installed: Iterable[str], table: Iterable[BuiltinCheck] = TABLE) -> list[str]:
    """The installed checks the table neither switches on nor gives a reason to leave off."""
    return sorted(set(installed) - {c.name for c in table})
