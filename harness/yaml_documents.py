"""Reading the YAML files people write (run configs, scenarios, assessor files) with errors they
can act on: every problem names the file, the field, its line and a fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from harness.errors import ConfigError

# Hints by pydantic error type, used when the caller has no field-specific hint.
TYPE_HINTS = {
    "float_parsing": "write a number, e.g. 10",
    "int_parsing": "write a whole number, e.g. 10",
    "bool_parsing": "write true or false",
    "string_type": "write text, in quotes if it looks like a number",
    "list_type": "write a list, e.g. [a, b]",
    "greater_than": "use a larger value",
    "less_than_equal": "use a smaller value",
    "literal_error": "use one of the values listed",
}


def read_yaml(path: Path, *, what: str, hint: str) -> tuple[Any, yaml.Node | None]:
    """The parsed document and its node tree (for line numbers); ConfigError when unreadable."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as missing:
        raise ConfigError(path, "", f"cannot read the {what} ({missing.strerror})", hint) from None
    try:
        return yaml.safe_load(text), yaml.compose(text)
    except yaml.YAMLError as bad:
        mark = getattr(bad, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "YAML"
        raise ConfigError(path, where, f"not valid YAML: {getattr(bad, 'problem', bad)}",
                          "check indentation and quoting") from None


def line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """The 1-based line of the deepest YAML node on ``loc`` (the field itself when it exists)."""
    found = node
    for key in loc:
        if isinstance(found, yaml.MappingNode):
            match = next((v for k, v in found.value if k.value == str(key)), None)
            if match is None:
                return found.start_mark.line + 1
            found = match
        elif isinstance(found, yaml.SequenceNode) and isinstance(key, int) \
                and key < len(found.value):
            found = found.value[key]
        else:
            break
    return found.start_mark.line + 1 if found is not None else None


def validation_error(path: Path, node: yaml.Node | None, invalid: ValidationError, *,
                     hints: dict[str, str] | None = None, default_hint: str = "") -> ConfigError:
    """The first pydantic error as one actionable line: file, field (line N), message, fix."""
    error = invalid.errors()[0]
    loc = tuple(error["loc"])
    field = ".".join(str(p) for p in loc) or "(top level)"
    line = line_of(node, loc)
    message = str(error["msg"]).removeprefix("Value error, ")
    hints = hints or {}
    if error["type"] == "extra_forbidden":
        message = "unknown field"
        hint = "remove it or check its spelling"
    elif error["type"] == "missing":
        message = "is required"
        hint = default_hint or "add it"
    else:
        got = error.get("input")
        if not isinstance(got, (dict, list)) and got is not None \
                and repr(got) not in message and str(got) not in message:
            message = f"{got!r}: {message}"
        parent = ".".join(str(p) for p in loc[:-1])
        hint = hints.get(field) or hints.get(parent) or TYPE_HINTS.get(error["type"]) \
            or default_hint
    return ConfigError(path, f"{field} (line {line})" if line else field, message, hint)
