"""Text and JSON the SUT or a vendor supplied, made safe to print, render, parse and sign.

A hostile system controls response bodies, headers, file names and finding messages. Nesting is
bounded without recursion (a 3 KB body nested 1,500 deep must not crash a report), and terminal
escapes, control characters and bidi overrides are removed before text reaches a terminal or a page.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

# Evidence data is cut below this depth; a report nests results/evidence a few levels above it.
MAX_EVIDENCE_DEPTH = 64
MAX_REPORT_DEPTH = 100
TOO_DEEP = "[nested deeper than {limit} levels: cut]"

# ANSI/VT escape sequences: CSI (ESC [ ...), OSC (ESC ] ... BEL or ST), and two-byte ESC sequences.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]?"
                   r"|\x9b[0-?]*[ -/]*[@-~]")
# C0 controls except tab and newline, DEL, C1 controls, and the bidi controls of "Trojan Source".
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def strip_control(text: str, *, keep_newlines: bool = True) -> str:
    """``text`` without terminal escapes and control characters (tab and newline kept if asked)."""
    cleaned = _CONTROL.sub("", _ANSI.sub("", text))
    return cleaned if keep_newlines else " ".join(cleaned.split())


WALK = object()  # what a ``walk_bounded`` visitor returns for a container to copy and walk into


def walk_bounded(value: Any, visit: Callable[[Any, Any], Any],
                 limit: int = MAX_EVIDENCE_DEPTH) -> Any:
    """A copy of ``value`` (JSON-like) whose containers below ``limit`` levels become a marker.

    ``visit(key, item)`` is asked for every item (``key``: its dict key, list index, or None at
    the top) and returns its replacement, or ``WALK`` for a dict, list or tuple to copy (a tuple
    as a list) and walk into. Iterative: the depth of the input never reaches Python's
    recursion limit.
    """
    marker = TOO_DEEP.format(limit=limit)
    root: dict[Any, Any] = {None: None}
    stack: list[tuple[Any, Any, Any, int]] = [(value, root, None, 0)]
    while stack:
        source, parent, key, depth = stack.pop()
        replacement = visit(key, source)
        if replacement is not WALK:
            parent[key] = replacement
        elif depth >= limit:
            parent[key] = marker
        elif isinstance(source, dict):
            copy: dict[Any, Any] = dict.fromkeys(source)
            parent[key] = copy
            stack.extend((item, copy, name, depth + 1) for name, item in source.items())
        else:
            items: list[Any] = [None] * len(source)
            parent[key] = items
            stack.extend((item, items, index, depth + 1) for index, item in enumerate(source))
    return root[None]


def containers(key: Any, item: Any) -> Any:
    """The ``walk_bounded`` visitor that walks every container and keeps every other item."""
    return WALK if isinstance(item, (dict, list, tuple)) else item


def clip_depth(value: Any, limit: int = MAX_EVIDENCE_DEPTH) -> Any:
    """A copy of ``value`` (JSON-like) whose containers below ``limit`` levels become a marker."""
    return walk_bounded(value, containers, limit)


def nesting_depth(value: Any) -> int:
    """How deep containers nest in ``value`` (0 for a scalar), without recursion."""
    deepest = 0
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend((v, depth + 1) for v in item)
        else:
            deepest = max(deepest, depth)
            continue
        deepest = max(deepest, depth + 1)
    return deepest


_STRING_OR_BRACKET = re.compile(r'"(?:[^"\\]|\\.)*"?|[\[\]{}]', re.DOTALL)


def json_text_depth(text: str) -> int:
    """How deep brackets nest in JSON text (strings skipped), without parsing it."""
    depth = deepest = 0
    for token in _STRING_OR_BRACKET.finditer(text):
        char = token.group()
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def cut_deep_json(text: str, limit: int = MAX_EVIDENCE_DEPTH) -> str:
    """JSON text whose containers below ``limit`` levels are replaced by a marker string.

    Valid JSON stays valid JSON, so ``json.loads(cut_deep_json(text))`` cannot hit the recursion limit.
    """
    if json_text_depth(text) <= limit:
        return text
    marker = '"' + TOO_DEEP.format(limit=limit) + '"'
    pieces: list[str] = []
    depth, copied_to, cut_at = 0, 0, -1
    for token in _STRING_OR_BRACKET.finditer(text):
        char = token.group()
        if char in "[{":
            depth += 1
            if depth == limit + 1:
                cut_at = token.start()
        elif char in "]}":
            if depth == limit + 1 and cut_at >= 0:
                pieces.append(text[copied_to:cut_at])
                pieces.append(marker)
                copied_to, cut_at = token.end(), -1
            depth -= 1
    if cut_at >= 0:  # unterminated: drop the rest, the text was not JSON anyway
        pieces.append(text[copied_to:cut_at] + marker)
        return "".join(pieces)
    pieces.append(text[copied_to:])
    return "".join(pieces)
