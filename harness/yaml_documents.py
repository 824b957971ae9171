"""Reading the YAML files people write (run configs, scenarios, assessor files) with errors they
can act on: every problem names the file, the field, its line and a fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

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


# What a person writes is small and shallow; anything past these is refused before it is built
# (PyYAML's composer recurses once per level: 50,000 levels gave a RecursionError traceback).
MAX_FILE_BYTES = 16 * 1024 * 1024
MAX_DEPTH = 100
MAX_NODES = 1_000_000  # after aliases are expanded: a "billion laughs" file is a few hundred bytes


# libyaml's parser where PyYAML was built with it (the wheels are): the same documents and line
# marks, several times faster than the pure-Python scanner on the specs and catalogue.
_SafeLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_SafeLoader):  # type: ignore[misc]
    """SafeLoader whose value errors (a 5,000-digit number, month 13) carry the node's line."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, OverflowError) as bad:
            raise yaml.constructor.ConstructorError(None, None, str(bad), node.start_mark) from None


def read_yaml(path: Path, *, what: str, hint: str) -> tuple[Any, yaml.Node | None]:
    """The parsed document and its node tree (for line numbers); ConfigError when unreadable."""
    try:
        with path.open("rb") as file:  # read with a bound: the path may be a device or a pipe
            data = file.read(MAX_FILE_BYTES + 1)
    except OSError as missing:
        raise ConfigError(path, "", f"cannot read the {what} ({missing.strerror})", hint) from None
    if len(data) > MAX_FILE_BYTES:
        raise ConfigError(path, "", f"the {what} is over {MAX_FILE_BYTES // 2**20} MiB",
                          "is it the right file?")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as binary:
        line = data.count(b"\n", 0, binary.start) + 1
        raise ConfigError(path, f"line {line}", f"not UTF-8 text (byte 0x{data[binary.start]:02x} "
                          f"at offset {binary.start})",
                          f"save the {what} as UTF-8 YAML text; is it the right file?") from None
    try:
        _check_shape(text, path, what)
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            return (loader.construct_document(node) if node is not None else None), node
        finally:
            loader.dispose()
    except yaml.YAMLError as bad:
        if "maximum nesting depth" not in str(bad):  # libyaml's own depth bound: as below
            raise _yaml_error(path, text, bad) from None
        raise ConfigError(path, _line(getattr(bad, "problem_mark", None)),
                          f"nests deeper than {MAX_DEPTH} levels", "flatten the YAML") from None
    except RecursionError:  # a backstop: _check_shape bounds the depth first
        raise ConfigError(path, "", f"nests deeper than {MAX_DEPTH} levels",
                          "flatten the YAML") from None


def _yaml_error(path: Path, text: str, bad: yaml.YAMLError) -> ConfigError:
    """One line for any PyYAML error: the line, the problem without PyYAML's multi-line context."""
    if isinstance(bad, yaml.reader.ReaderError):  # a control character: a position, no mark
        line = text.count("\n", 0, bad.position) + 1
        return ConfigError(path, f"line {line}", f"character #x{bad.character:04x} is not "
                           "allowed in YAML", "remove it; is it the right file?")
    mark = getattr(bad, "problem_mark", None)
    where = f"line {mark.line + 1}" if mark else "YAML"
    problem = " ".join(str(getattr(bad, "problem", None) or bad).split())
    problem = problem.split("; use sys.set_int_max_str_digits")[0]  # Python's advice, not ours
    if isinstance(bad, yaml.constructor.ConstructorError):
        return ConfigError(path, where, f"value not allowed: {problem}",
                           "fix the value (a date as YYYY-MM-DD, a number of at most a few "
                           "digits), or quote it to make it text")
    return ConfigError(path, where, f"not valid YAML: {problem}", "check indentation and quoting")


class _Mark(Protocol):
    """Where the parser is: PyYAML's pure-Python Mark and libyaml's both carry the line."""

    line: int


def _line(mark: _Mark | None) -> str:
    return f"line {mark.line + 1}" if mark is not None else "line ?"  # the parser always sets it


def _check_shape(text: str, path: Path, what: str) -> None:
    """Refuse nesting deeper than MAX_DEPTH and more than MAX_NODES nodes (aliases expanded),
    reading the parser's events: the parser is a state machine, it does not recurse."""
    open_sizes: list[int] = []  # nodes so far in each open collection
    open_anchors: list[str | None] = []
    anchored: dict[str, tuple[int, int]] = {}  # anchor -> (nodes, levels) it expands to
    heights: list[int] = []  # deepest level below each open collection

    def add(nodes: int, levels: int, mark: _Mark | None) -> None:
        if len(open_sizes) + levels > MAX_DEPTH:
            raise ConfigError(path, _line(mark), f"nests deeper than {MAX_DEPTH} levels",
                              f"a {what} needs only a few levels: flatten it")
        if open_sizes:
            open_sizes[-1] += nodes
            heights[-1] = max(heights[-1], levels)
            if open_sizes[0] + sum(open_sizes[1:]) > MAX_NODES:
                raise ConfigError(path, _line(mark), f"expands to over {MAX_NODES:,} "
                                  "values (aliases included)", "write the values out, without "
                                  "aliases nested in aliases")

    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            if len(open_sizes) >= MAX_DEPTH:
                raise ConfigError(path, _line(event.start_mark),
                                  f"nests deeper than {MAX_DEPTH} levels",
                                  f"a {what} needs only a few levels: flatten it")
            open_sizes.append(1)
            open_anchors.append(event.anchor)
            heights.append(0)
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            nodes, anchor, levels = open_sizes.pop(), open_anchors.pop(), heights.pop() + 1
            if anchor:
                anchored[anchor] = (nodes, levels)
            add(nodes, levels, event.start_mark)
        elif isinstance(event, yaml.ScalarEvent):
            if event.anchor:
                anchored[event.anchor] = (1, 0)
            add(1, 0, event.start_mark)
        elif isinstance(event, yaml.AliasEvent):
            nodes, levels = anchored.get(event.anchor or "", (1, 0))
            add(nodes, levels, event.start_mark)


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
