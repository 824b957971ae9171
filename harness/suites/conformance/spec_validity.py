"""Is the OpenAPI document a SUT publishes a valid one? Checked before CONF-SPEC-DRIFT compares it.

The document is hostile bytes (already bounded to 5 MB and parsed by the HTTP client). Before the
validator sees it: at most ``MAX_DEPTH`` levels and ``MAX_NODES`` values (the validator recurses
and walks every node), and only local ``$ref``s: openapi-spec-validator would otherwise fetch
``http(s)://`` and read ``file://`` references (out of scope, and the harness's own files).
The validator also runs with no retrieval handlers at all, in case a base URI (``$id``) turns a
local-looking reference into a remote one.
"""

from __future__ import annotations

from typing import Any

from harness.untrusted import strip_control

MAX_DEPTH = 64
MAX_NODES = 200_000
_MAX_MESSAGE = 300


def validity_problem(document: Any) -> str | None:
    """None when ``document`` is a valid OpenAPI document; else one line naming the problem."""
    problem = _shape_problem(document)
    if problem is not None:
        return problem
    try:
        from jsonschema_path import SchemaPath
        from openapi_spec_validator.shortcuts import get_validator_cls
        from openapi_spec_validator.validation.exceptions import ValidatorDetectError
    except ImportError as missing:  # pragma: no cover - a dependency of popcert
        return f"cannot validate: {missing}"
    try:
        validator = get_validator_cls(document)(SchemaPath.from_dict(document, handlers={}))
        # the first error (best_match needs jsonschema's own errors; the fast backend's are not)
        error = next(iter(validator.schema_validator.iter_errors(document)), None)
        if error is None:
            error = next(iter(validator.root_validator(validator.schema_path)), None)
    except ValidatorDetectError:
        return ("no 'openapi' version the validator knows (3.0.x, 3.1.x or 3.2.x; or 'swagger': "
                "'2.0')")
    except RecursionError:
        return f"nested too deeply for the validator (more than {MAX_DEPTH} levels allowed)"
    except Exception as broken:  # noqa: BLE001 - a hostile document must not crash the check
        return _clean(f"the validator stopped on it: {type(broken).__name__}: {broken}")
    if error is None:
        return None
    where = "".join("/" + str(part).replace("~", "~0").replace("/", "~1")
                    for part in getattr(error, "absolute_path", ())) or "/"
    message = (str(getattr(error, "message", error)).strip().splitlines() or ["invalid"])[0]
    return _clean(f"{message} (at {where})")


def _shape_problem(document: Any) -> str | None:
    """Depth, size and external references, counted without recursion."""
    if not isinstance(document, dict):
        return "not a JSON object"
    pending: list[tuple[Any, int, str]] = [(document, 1, "")]
    nodes = 0
    while pending:
        node, depth, where = pending.pop()
        nodes += 1
        if nodes > MAX_NODES:
            return f"more than {MAX_NODES} values: too large to validate"
        if depth > MAX_DEPTH:
            return f"nested more than {MAX_DEPTH} levels deep (at {where or '/'})"
        if isinstance(node, dict):
            reference = node.get("$ref")
            if isinstance(reference, str) and not reference.startswith("#"):
                return _clean(f"external $ref {reference!r} at {where or '/'}: only references "
                              "inside the document (#/...) are followed")
            pending.extend((value, depth + 1, f"{where}/{key}") for key, value in node.items())
        elif isinstance(node, list):
            pending.extend((value, depth + 1, f"{where}/{index}")
                           for index, value in enumerate(node))
    return None


def _clean(text: str) -> str:
    text = strip_control(text, keep_newlines=False)
    return text if len(text) <= _MAX_MESSAGE else text[:_MAX_MESSAGE - 3] + "..."
