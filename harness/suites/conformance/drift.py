"""Spec drift: breaking differences between the shared connection spec and the one the SUT publishes.

A pure function over two OpenAPI documents (dicts). Breaking, from the portal's point of view:
an operation removed, a parameter or request field newly required, a response field no longer
required, a request enum narrowed (or a response enum widened), a type changed. Additions the portal can ignore are not reported.
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
    servers = spec.get("servers") or [{}]
    base = urlsplit(str(servers[0].get("url", ""))).path.rstrip("/")
    found: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}
    for path, item in (spec.get("paths") or {}).items():
        item = _resolve(spec, item)
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
    for raw in operation.get("parameters") or []:
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
            drifts += _compare_schema(where, shared, mine[key].get("schema") or {},
                                      published, param.get("schema") or {}, "request", 0)
    return drifts


def _json_schema(spec: dict[str, Any], holder: Any) -> dict[str, Any] | None:
    holder = _resolve(spec, holder)
    content = (holder or {}).get("content") or {}
    for media_type, body in content.items():
        if "json" in media_type:
            return _resolve(spec, (body or {}).get("schema") or {})
    return None


def _compare_request(label: str, shared: dict[str, Any], ours: dict[str, Any],
                     published: dict[str, Any], theirs: dict[str, Any]) -> list[Drift]:
    mine = _json_schema(shared, ours.get("requestBody"))
    other = _json_schema(published, theirs.get("requestBody"))
    if mine is None or other is None:
        return []
    return _compare_schema(f"{label} request body", shared, mine, published, other, "request", 0)


def _compare_responses(label: str, shared: dict[str, Any], ours: dict[str, Any],
                       published: dict[str, Any], theirs: dict[str, Any]) -> list[Drift]:
    drifts: list[Drift] = []
    other_responses = theirs.get("responses") or {}
    for status, response in (ours.get("responses") or {}).items():
        mine = _json_schema(shared, response)
        other = _json_schema(published, other_responses.get(status))
        if mine is not None and other is not None:
            drifts += _compare_schema(f"{label} response {status}", shared, mine, published,
                                      other, "response", 0)
    return drifts


def _types(schema: dict[str, Any]) -> frozenset[str]:
    declared = schema.get("type")
    if declared is None:
        return frozenset()
    types = {declared} if isinstance(declared, str) else set(declared)
    return frozenset(types - {"null"})


def _compare_schema(where: str, shared: dict[str, Any], mine: Any, published: dict[str, Any],
                    other: Any, direction: str, depth: int) -> list[Drift]:
    """Compare one schema pair; ``direction`` says who produces the data (portal or SUT)."""
    mine, other = _resolve(shared, mine), _resolve(published, other)
    if depth > _MAX_DEPTH or not isinstance(mine, dict) or not isinstance(other, dict):
        return []
    drifts: list[Drift] = []
    ours_t, theirs_t = _types(mine), _types(other)
    if ours_t and theirs_t and ours_t != theirs_t:
        drifts.append(Drift(where, "type_changed",
                            f"{'/'.join(sorted(ours_t))} became {'/'.join(sorted(theirs_t))}"))
        return drifts
    if "enum" in mine and "enum" in other:
        lost = [v for v in mine["enum"] if v not in other["enum"]]
        extra = [v for v in other["enum"] if v not in mine["enum"]]
        if direction == "request" and lost:
            drifts.append(Drift(where, "enum_narrowed", f"values {lost!r} are no longer accepted"))
        if direction == "response" and extra:
            # The portal only knows the shared values; a new one in a response can break it.
            drifts.append(Drift(where, "enum_widened", f"values {extra!r} may now be returned"))
    mine_required, other_required = set(mine.get("required") or []), set(other.get("required") or [])
    if direction == "request":
        for name in sorted(other_required - mine_required):
            drifts.append(Drift(f"{where}.{name}", "newly_required",
                                "the SUT requires a field the shared spec makes optional"))
    else:
        for name in sorted(mine_required - other_required):
            drifts.append(Drift(f"{where}.{name}", "no_longer_required",
                                "the shared spec promises this field; the SUT may omit it"))
    mine_props = mine.get("properties") or {}
    other_props = other.get("properties") or {}
    for name, sub in mine_props.items():
        if name in other_props:
            drifts += _compare_schema(f"{where}.{name}", shared, sub, published,
                                      other_props[name], direction, depth + 1)
        elif direction == "response" and name in mine_required:
            continue  # already reported as no longer required
    if isinstance(mine.get("items"), dict) and isinstance(other.get("items"), dict):
        drifts += _compare_schema(f"{where}[]", shared, mine["items"], published,
                                  other["items"], direction, depth + 1)
    return drifts
