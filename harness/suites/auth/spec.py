"""What the AUTH checks read from specs/connection/v1 instead of a hand list: the scopes each
operation's security requirements name, the operations that document 413, and the request-body
fields that carry citizen data (with a valid value and an invalid one that still contains it).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import yaml

from harness import resources
from harness.suites.conformance.spec import (
    bearer_scheme,  # one reading of the spec's bearer scheme
)
from harness.sut.dossiers import Person

SPEC_PATH = resources.data_path("specs", "connection", "v1", "openapi.yaml")
METHODS = ("get", "put", "post", "delete", "patch")
MIN_ECHO_CHARS = 6  # shorter values (a 3-digit province code) cannot be recognised in an echo


@dataclass(frozen=True)
class Operation:
    """One operation of the spec and what its security requirements and responses say."""

    method: str
    path: str
    operation_id: str
    scopes: frozenset[str]  # scopes every alternative of its security requirement names
    responses: frozenset[str]
    body_schema: str | None  # the component name of its JSON request body

    def documents(self, status: int) -> bool:
        return str(status) in self.responses


@dataclass(frozen=True)
class CitizenField:
    """A request-body field with citizen data: where, a valid body around it, an invalid value."""

    pointer: str
    body: dict[str, Any]  # valid body of the procedure, the field holding ``value``
    value: str
    invalid: str  # breaks the field's schema but still contains ``value``

    def mutated_body(self) -> dict[str, Any]:
        changed = copy.deepcopy(self.body)
        target: Any = changed
        parts = self.pointer.strip("/").split("/")
        for part in parts[:-1]:
            target = target[part]
        target[parts[-1]] = self.invalid
        return changed


@lru_cache(maxsize=1)
def connection_spec() -> dict[str, Any]:
    loaded = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
    if not isinstance(loaded, dict):
        raise TypeError(f"{SPEC_PATH}: not an OpenAPI document")
    return loaded




def required_scopes(security: Sequence[dict[str, Any]], bearer: str | None) -> frozenset[str]:
    """Scopes a token must carry whatever alternative the caller satisfies (OpenAPI: the list is
    OR, each requirement AND); none when an alternative needs no bearer token."""
    required: set[str] | None = None
    for alternative in security:
        if not isinstance(alternative, dict) or bearer not in alternative:
            return frozenset()
        scopes = {str(s) for s in alternative.get(bearer) or []}
        required = scopes if required is None else required & scopes
    return frozenset(required or ())


def operations(spec: dict[str, Any] | None = None) -> list[Operation]:
    spec = spec if spec is not None else connection_spec()
    bearer = bearer_scheme(spec)
    found = []
    for path, item in (spec.get("paths") or {}).items():
        for method, operation in (item or {}).items():
            if method not in METHODS or not isinstance(operation, dict):
                continue
            security = operation.get("security", spec.get("security")) or []
            content = ((operation.get("requestBody") or {}).get("content") or {})
            ref = str(((content.get("application/json") or {}).get("schema") or {}).get("$ref", ""))
            found.append(Operation(method.upper(), str(path), str(operation.get("operationId", "")),
                                   required_scopes(security, bearer),
                                   frozenset(str(c) for c in operation.get("responses") or {}),
                                   ref.rsplit("/", 1)[-1] or None))
    return found


def all_scopes(ops: Sequence[Operation]) -> frozenset[str]:
    return frozenset(s for op in ops for s in op.scopes)


# --- citizen-data fields of the request bodies ------------------------------------------------
def _schemas(spec: dict[str, Any]) -> dict[str, Any]:
    return dict((spec.get("components") or {}).get("schemas") or {})


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
        name = ref.rsplit("/", 1)[-1]
        return name, dict(_schemas(spec).get(name) or {})
    return None, schema


def _variants(spec: dict[str, Any], name: str) -> list[dict[str, Any]]:
    schema = dict(_schemas(spec).get(name) or {})
    if "oneOf" in schema or "anyOf" in schema:
        return [_resolve(spec, s)[1] for s in schema.get("oneOf") or schema.get("anyOf") or []]
    return [schema]


def _fits(value: str, schema: dict[str, Any]) -> bool:
    pattern = schema.get("pattern")
    return (len(value) >= int(schema.get("minLength", 0))
            and len(value) <= int(schema.get("maxLength", 10**9))
            and (pattern is None or re.search(str(pattern), value) is not None))


def _string_value(name: str | None, prop: str, schema: dict[str, Any], person: Person) -> str:
    """A valid value for a string leaf, the person's own data where the field is about a person."""
    if "const" in schema:
        return str(schema["const"])
    if schema.get("enum"):
        return str(schema["enum"][0])
    candidates = [person.personal_id if "personal_id" in prop or name == "PersonalId" else "",
                  person.full_name if "name" in prop or name == "FullName" else "",
                  person.date_of_birth if schema.get("format") == "date" else "",
                  *[str(e) for e in schema.get("examples") or []],
                  "Số 1, đường Lê Lợi", f"HH-{person.personal_id[-6:]}", person.personal_id[:3],
                  person.full_name, person.date_of_birth]
    for candidate in candidates:
        if candidate and _fits(candidate, schema):
            return candidate
    return person.full_name


def _instance(spec: dict[str, Any], schema: dict[str, Any], person: Person, prop: str = "",
              depth: int = 0) -> Any:
    """A valid instance of a (simple) request schema filled with ``person``'s data."""
    name, schema = _resolve(spec, schema)
    if name == "Person":
        return person.to_json()
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        if depth > 6:
            return {}
        return {key: _instance(spec, sub, person, key, depth + 1)
                for key, sub in (schema.get("properties") or {}).items()}
    if kind == "integer":
        return int(schema.get("minimum", 1))
    if kind == "boolean":
        return True
    return _string_value(name, prop, schema, person)


def _invalid(value: str, schema: dict[str, Any]) -> str | None:
    """An invalid value that still contains ``value`` (so an echo of it can be recognised)."""
    for suffix in ("#", " #", "\u00a7"):
        if schema.get("pattern") and not _fits(value + suffix, schema):
            return value + suffix
    if "maxLength" in schema:
        repeated = value
        while len(repeated) <= int(schema["maxLength"]):
            repeated += " " + value
        return repeated
    return None


def _leaves(spec: dict[str, Any], schema: dict[str, Any], body: Any, pointer: str = ""
            ) -> Iterator[tuple[str, dict[str, Any], str]]:
    _, schema = _resolve(spec, schema)
    if isinstance(body, dict):
        for key, value in body.items():
            sub = (schema.get("properties") or {}).get(key)
            if isinstance(sub, dict):
                yield from _leaves(spec, sub, value, f"{pointer}/{key}")
    elif isinstance(body, str) and "enum" not in schema and "const" not in schema:
        yield pointer, schema, body


def citizen_fields(people: Sequence[Person], spec: dict[str, Any] | None = None,
                   body_schema: str = "DossierCreate") -> list[CitizenField]:
    """Every free-text or patterned string field of the request body's variants (one per JSON
    pointer), with a valid body of the first variant that has it."""
    spec = spec if spec is not None else connection_spec()
    if not people:
        return []
    fields: dict[str, CitizenField] = {}
    for index, variant in enumerate(_variants(spec, body_schema)):
        body = _instance(spec, variant, people[index % len(people)])
        if not isinstance(body, dict):
            continue
        for pointer, schema, value in _leaves(spec, variant, body):
            invalid = _invalid(value, schema)
            if pointer in fields or invalid is None or len(value) < MIN_ECHO_CHARS:
                continue
            fields[pointer] = CitizenField(pointer, body, value, invalid)
    return list(fields.values())


def citizen_values(body: Any, spec: dict[str, Any] | None = None,
                   body_schema: str = "DossierCreate") -> list[str]:
    """The citizen data a body carries (non-enum strings long enough to recognise), to look for
    in error bodies."""
    spec = spec if spec is not None else connection_spec()
    values = {value for variant in _variants(spec, body_schema)
              for _, _, value in _leaves(spec, variant, body) if len(value) >= MIN_ECHO_CHARS}
    return sorted(values)


# --- what the spec documents per path, and the bodies that break a schema ---------------------
def documented_methods(spec: dict[str, Any] | None = None) -> dict[str, frozenset[str]]:
    """Each path of the spec and the methods it documents (upper case)."""
    spec = spec if spec is not None else connection_spec()
    known = (*METHODS, "head", "options", "trace")
    return {str(path): frozenset(m.upper() for m in (item or {}) if m in known)
            for path, item in (spec.get("paths") or {}).items()}


def error_schema(spec: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ``Error`` body every error response documents."""
    spec = spec if spec is not None else connection_spec()
    return dict(_schemas(spec).get("Error") or {})


def _concrete(spec: dict[str, Any], name: str, body: Any) -> dict[str, Any]:
    """The schema ``body`` is meant to match: a discriminated union's member for its value."""
    schema = dict(_schemas(spec).get(name) or {})
    discriminator = schema.get("discriminator") or {}
    prop = discriminator.get("propertyName")
    if prop and isinstance(body, dict):
        ref = (discriminator.get("mapping") or {}).get(str(body.get(prop)))
        if isinstance(ref, str):
            return _resolve(spec, {"$ref": ref})[1]
    return schema


NOT_DOCUMENTED = "popcert-not-a-documented-value"


def schema_breaking(valid: dict[str, Any], schema_name: str, spec: dict[str, Any] | None = None
                    ) -> list[tuple[str, Any]]:
    """Well-formed JSON bodies that do not match ``schema_name`` (each breaks one assertion of
    its top level: a required property left out, a value outside an enum/const, a string against
    its pattern, an array instead of the object), each with what it breaks. ``format`` is left
    alone: in JSON Schema 2020-12 it is an annotation, so a body breaking only a format still
    matches the schema."""
    spec = spec if spec is not None else connection_spec()
    schema = _concrete(spec, schema_name, valid)
    variants: list[tuple[str, Any]] = []
    for prop in schema.get("required") or []:
        if prop in valid:
            variants.append((f"without its required {prop}",
                             {k: v for k, v in valid.items() if k != prop}))
    for prop, sub in (schema.get("properties") or {}).items():
        _, resolved = _resolve(spec, sub) if isinstance(sub, dict) else (None, {})
        value = valid.get(prop)
        if "enum" in resolved or "const" in resolved:
            variants.append((f"with {prop} outside its documented values",
                             {**valid, prop: NOT_DOCUMENTED}))
        elif isinstance(value, str) and resolved.get("pattern"):
            broken = value + "#"
            if not _fits(broken, resolved):
                variants.append((f"with {prop} not matching its pattern", {**valid, prop: broken}))
    variants.append(("a JSON array instead of the object", [valid]))
    return variants
