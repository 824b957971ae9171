"""Spec drift: breaking differences between the shared connection spec and the one the SUT publishes.

``assess`` validates the published document first (spec_validity.py: an invalid one is a single
``invalid_document`` change naming the validator's error), then ``breaking_changes`` compares it,
a pure function over two OpenAPI documents (dicts). Breaking, from the portal's point of view:
an operation removed, a parameter or request field newly required, a response field no longer
required, a request enum narrowed (or a response enum widened), a type changed, and any part the
shared spec describes that the published one leaves out (issue 24: operations published as ``{}``
described nothing and passed): a parameter, a parameter's schema, the request body, a response,
a response's body, a schema's type, property, items or oneOf/anyOf/allOf branch.
Additions the portal can ignore are not reported. The published document is hostile: every
lookup in it tolerates any JSON type.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
_MAX_DEPTH = 12  # recursive schemas (a tree of dossiers) must not loop forever


@dataclass(frozen=True)
class Drift:
    location: str  # e.g. "POST /connection/v1/dossiers request body .applicant.personal_id"
    kind: str  # removed_operation | newly_required | no_longer_required | enum_narrowed/widened | type_changed
    detail: str


def assess(shared: dict[str, Any], published: Any) -> list[Drift]:
    """The published document's validity problem, or else its breaking changes."""
    from harness.suites.conformance.spec_validity import validity_problem

    problem = validity_problem(published)
    if problem is not None:
        return [Drift("the published document", "invalid_document",
                      f"not a valid OpenAPI document: {problem}")]
    return breaking_changes(shared, published)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def breaking_changes(shared: dict[str, Any], published: dict[str, Any]) -> list[Drift]:
    """Every breaking difference of ``published`` against ``shared``; empty when compatible."""
    drifts: list[Drift] = []
    ours = _operations(shared)
    theirs = _operations(published)
    for key, (label, operation) in sorted(ours.items()):
        if key not in theirs:
            drifts.append(Drift(label, "removed_operation", "documented in the shared spec, "
                                "missing from the published one"))
            continue
        other = theirs[key][1]
        drifts += _compare_parameters(label, shared, operation, published, other,
                                      theirs[key][0])
        drifts += _compare_request(label, shared, operation, published, other)
        drifts += _compare_responses(label, shared, operation, published, other)
    return drifts


def _operations(spec: dict[str, Any]) -> dict[tuple[str, str], tuple[str, dict[str, Any]]]:
    """(METHOD, normalised path) -> (label, operation); paths carry the server's base path."""
    servers = _list(spec.get("servers")) or [{}]
    try:
        base = urlsplit(str(_dict(servers[0]).get("url", ""))).path.rstrip("/")
    except ValueError:  # an unparseable URL: paths are taken as they are
        base = ""
    found: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}
    for path, item in _dict(spec.get("paths")).items():
        item = _dict(_resolve(spec, item))
        path = str(path)
        full = path if base and path.startswith(base + "/") else base + path
        normalised = re.sub(r"\{[^}]+\}", "{}", full)
        for method in METHODS:
            if isinstance(item.get(method), dict):
                found[(method.upper(), normalised)] = (f"{method.upper()} {full}", item[method])
    return found


def _resolve(spec: dict[str, Any], node: Any, depth: int = 0) -> Any:
    """Follow local $refs (#/components/...); anything else is returned as is."""
    while isinstance(node, dict) and isinstance(node.get("$ref"), str) and depth < _MAX_DEPTH:
        ref = node["$ref"]
        if not ref.startswith("#/"):
            return {}
        target: Any = spec
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            target = target.get(part, {}) if isinstance(target, dict) else {}
        node = target
        depth += 1
    return node


def _parameters(spec: dict[str, Any], operation: dict[str, Any],
                label: str) -> dict[tuple[str, str], Any]:
    """Parameters by (location, name); path parameters by position, since renaming one is harmless."""
    placeholders = re.findall(r"\{([^}]+)\}", label)
    params = {}
    for raw in _list(operation.get("parameters")):
        param = _resolve(spec, raw)
        if isinstance(param, dict) and "name" in param:
            name = str(param["name"])
            if param.get("in") == "path" and name in placeholders:
                name = f"#{placeholders.index(name)}"
            params[(str(param.get("in")), name.lower())] = param
    return params


def _compare_parameters(label: str, shared: dict[str, Any], ours: dict[str, Any],
                        published: dict[str, Any], theirs: dict[str, Any],
                        their_label: str) -> list[Drift]:
    drifts: list[Drift] = []
    mine, other = _parameters(shared, ours, label), _parameters(published, theirs, their_label)
    for key, param in other.items():
        where = f"{label} {key[0]} parameter {key[1]}"
        if param.get("required") and not (mine.get(key) or {}).get("required"):
            drifts.append(Drift(where, "newly_required", "the SUT requires a parameter the "
                                "shared spec makes optional or does not define"))
        if key in mine:
            if mine[key].get("schema") and not param.get("schema"):
                drifts.append(Drift(where, "missing_schema", "the published parameter has no "
                                    "schema: it describes no value"))
                continue
            drifts += _compare_schema(where, shared, mine[key].get("schema") or {},
                                      published, param.get("schema") or {}, "request", 0)
    for key in sorted(set(mine) - set(other)):
        drifts.append(Drift(f"{label} {key[0]} parameter {key[1]}", "missing_parameter",
                            "documented in the shared spec, missing from the published one"))
    return drifts


def _json_schema(spec: dict[str, Any], holder: Any) -> dict[str, Any] | None:
    content = _dict(_dict(_resolve(spec, holder)).get("content"))
    for media_type, body in content.items():
        if "json" in str(media_type):
            schema = _resolve(spec, _dict(body).get("schema"))
            return schema if isinstance(schema, dict) and schema else None
    return None


def _compare_request(label: str, shared: dict[str, Any], ours: dict[str, Any],
                     published: dict[str, Any], theirs: dict[str, Any]) -> list[Drift]:
    mine = _json_schema(shared, ours.get("requestBody"))
    other = _json_schema(published, theirs.get("requestBody"))
    if mine is None:
        return []
    if other is None:
        return [Drift(f"{label} request body", "missing_request_body",
                      "the shared spec describes a JSON body; the published one does not")]
    return _compare_schema(f"{label} request body", shared, mine, published, other, "request", 0)


def _compare_responses(label: str, shared: dict[str, Any], ours: dict[str, Any],
                       published: dict[str, Any], theirs: dict[str, Any]) -> list[Drift]:
    drifts: list[Drift] = []
    other_responses = {str(k): v for k, v in _dict(theirs.get("responses")).items()}
    for status, response in _dict(ours.get("responses")).items():
        status = str(status)
        where = f"{label} response {status}"
        # a range (4XX) or default entry describes the status as well
        theirs_response = next((other_responses[key] for key in
                                (status, status[:1] + "XX", "default") if key in other_responses),
                               None)
        if theirs_response is None:
            drifts.append(Drift(where, "missing_response", "documented in the shared spec, "
                                "missing from the published one"))
            continue
        mine = _json_schema(shared, response)
        other = _json_schema(published, theirs_response)
        if mine is not None and other is None:
            drifts.append(Drift(where, "missing_response_body", "the shared spec describes a "
                                "JSON body; the published one does not"))
        elif mine is not None and other is not None:
            drifts += _compare_schema(where, shared, mine, published, other, "response", 0)
    return drifts


def _types(schema: dict[str, Any]) -> frozenset[str]:
    declared = schema.get("type")
    if declared is None:
        return frozenset()
    types = {declared} if isinstance(declared, str) else \
        {t for t in _list(declared) if isinstance(t, str)}
    return frozenset(types - {"null"})


def _compare_schema(where: str, shared: dict[str, Any], mine: Any, published: dict[str, Any],
                    other: Any, direction: str, depth: int) -> list[Drift]:
    """Compare one schema pair; ``direction`` says who produces the data (portal or SUT)."""
    mine, other = _resolve(shared, mine), _resolve(published, other)
    if depth > _MAX_DEPTH or not isinstance(mine, dict) or not mine:
        return []
    if not isinstance(other, dict):  # `true` (anything) or a broken schema: it describes nothing
        return [Drift(where, "missing_schema", "the published schema describes no value")]
    drifts: list[Drift] = []
    ours_t, theirs_t = _types(mine), _types(other)
    if ours_t and theirs_t and ours_t != theirs_t:
        drifts.append(Drift(where, "type_changed",
                            f"{'/'.join(sorted(ours_t))} became {'/'.join(sorted(theirs_t))}"))
        return drifts
    if ours_t and not theirs_t:
        drifts.append(Drift(where, "missing_type", f"the shared spec says {'/'.join(sorted(ours_t))}; "
                            "the published schema declares no type"))
    if isinstance(mine.get("enum"), list) and not isinstance(other.get("enum"), list) \
            and direction == "response":
        drifts.append(Drift(where, "enum_widened", "the published schema lists no values: any "
                            "value may now be returned"))
    if isinstance(mine.get("enum"), list) and isinstance(other.get("enum"), list):
        lost = [v for v in mine["enum"] if v not in other["enum"]]
        extra = [v for v in other["enum"] if v not in mine["enum"]]
        if direction == "request" and lost:
            drifts.append(Drift(where, "enum_narrowed", f"values {lost!r} are no longer accepted"))
        if direction == "response" and extra:
            # The portal only knows the shared values; a new one in a response can break it.
            drifts.append(Drift(where, "enum_widened", f"values {extra!r} may now be returned"))
    mine_required = {str(n) for n in _list(mine.get("required"))}
    other_required = {str(n) for n in _list(other.get("required"))}
    if direction == "request":
        for name in sorted(other_required - mine_required):
            drifts.append(Drift(f"{where}.{name}", "newly_required",
                                "the SUT requires a field the shared spec makes optional"))
    else:
        for name in sorted(mine_required - other_required):
            drifts.append(Drift(f"{where}.{name}", "no_longer_required",
                                "the shared spec promises this field; the SUT may omit it"))
    mine_props = _dict(mine.get("properties"))
    other_props = _dict(other.get("properties"))
    for name, sub in mine_props.items():
        if name in other_props:
            drifts += _compare_schema(f"{where}.{name}", shared, sub, published,
                                      other_props[name], direction, depth + 1)
        elif direction == "response" and name in mine_required:
            continue  # already reported as no longer required
        else:
            drifts.append(Drift(f"{where}.{name}", "missing_property", "described by the shared "
                                "spec, missing from the published schema"))
    if isinstance(mine.get("items"), dict):
        if isinstance(other.get("items"), dict):
            drifts += _compare_schema(f"{where}[]", shared, mine["items"], published,
                                      other["items"], direction, depth + 1)
        else:
            drifts.append(Drift(f"{where}[]", "missing_items", "the shared spec describes the "
                                "items; the published schema does not"))
    for keyword in ("oneOf", "anyOf", "allOf"):
        ours_branches, theirs_branches = _list(mine.get(keyword)), _list(other.get(keyword))
        if ours_branches and len(theirs_branches) != len(ours_branches):
            drifts.append(Drift(where, "missing_branches", f"{keyword} has {len(ours_branches)} "
                                f"schemas in the shared spec, {len(theirs_branches)} published"))
            continue
        for index, (ours_branch, theirs_branch) in enumerate(zip(ours_branches, theirs_branches,
                                                                 strict=True)):
            drifts += _compare_schema(f"{where}.{keyword}[{index}]", shared, ours_branch,
                                      published, theirs_branch, direction, depth + 1)
    return drifts
