"""Whether a TLS setting's value is provably "verify on": the value side of the TLS rule (tls_rule.py).

An allow-list, not a deny-list: a value is ON only when it folds to what the setting's kind accepts
(True, a non-empty CA path, CERT_REQUIRED, an SSL context built in the same file, "1"), directly or
through names, attributes and same-file functions resolving to such values. A value that folds to
anything else is OFF (``verify=''``, ``verify=not True``, ``bool(0)``, ``cert_reqs=0``,
``ssl.VerifyMode(0)``); a value that cannot be folded is UNPROVEN (a finding an assessor may accept
in the baseline with a reason). Folding is bounded: expression depth, resolution depth, string and
collection sizes, so a hostile file cannot make it loop or allocate.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Callable, Iterable
from enum import Enum
from typing import Any

ON, OFF, UNPROVEN = "on", "off", "unproven"

# Setting kinds: what "verify on" is for each.
BOOL_OR_CA = "bool-or-ca"      # requests/httpx verify: True or a CA bundle path
BOOL = "bool"                  # check_hostname: True
HOSTNAME = "hostname"          # urllib3 assert_hostname: True or the expected host name
SSL_ARG = "ssl"                # aiohttp/asyncio ssl=: True or an SSL context
MODE = "mode"                  # cert_reqs / verify_mode: CERT_REQUIRED (or OPTIONAL, see below)
ENV_CA = "env-ca"              # REQUESTS_CA_BUNDLE & co: a non-empty path
ENV_ONE = "env-one"            # PYTHONHTTPSVERIFY, NODE_TLS_REJECT_UNAUTHORIZED: "1"
ENV_ANY = "env-any"            # GIT_SSL_NO_VERIFY: set at all means off

# Keyword, dict key and subscript names of the settings, and their kinds.
KEYWORDS: dict[str, str] = {
    "verify": BOOL_OR_CA, "verify_ssl": BOOL_OR_CA, "ssl_verify": BOOL_OR_CA,
    "verify_certs": BOOL_OR_CA, "check_hostname": BOOL, "assert_hostname": HOSTNAME,
    "ssl": SSL_ARG, "cert_reqs": MODE, "verify_mode": MODE,
}
# Attribute writes (``x.verify = ...``, setattr, __dict__): ``.ssl`` is too common a name to judge.
ATTRIBUTES: dict[str, str] = {k: v for k, v in KEYWORDS.items() if k != "ssl"}
# Environment variables that decide verification for requests, curl, OpenSSL, Python, Node, git.
ENVIRONMENT: dict[str, str] = {
    "REQUESTS_CA_BUNDLE": ENV_CA, "CURL_CA_BUNDLE": ENV_CA, "SSL_CERT_FILE": ENV_CA,
    "SSL_CERT_DIR": ENV_CA, "PYTHONHTTPSVERIFY": ENV_ONE, "NODE_TLS_REJECT_UNAUTHORIZED": ENV_ONE,
    "GIT_SSL_NO_VERIFY": ENV_ANY,
}
# ssl module constants by value. CERT_OPTIONAL counts as on: "In client mode, CERT_OPTIONAL has
# the same meaning as CERT_REQUIRED" (Python's ssl docs); a server always sends its certificate.
CONSTANTS: dict[str, Any] = {"CERT_NONE": 0, "CERT_OPTIONAL": 1, "CERT_REQUIRED": 2}
_MODE_ON = frozenset({1, 2, "CERT_REQUIRED", "REQUIRED", "CERT_OPTIONAL", "OPTIONAL"})
# Calls that build an SSL context; its own settings are judged where they are written.
CONTEXT_BUILDERS = frozenset({"create_default_context", "SSLContext", "create_urllib3_context",
                              "create_ssl_context"})

_MAX_EXPRESSION_DEPTH = 40
_MAX_BINDINGS = 32  # values one name may have and still be resolved
_MAX_RESOLUTION_DEPTH = 16  # names resolved through names (A = B, B = C, ...)
_MAX_SIZE = 4096  # characters of a folded string, items of a folded collection


class _Unknown(Enum):
    UNKNOWN = 0


UNKNOWN = _Unknown.UNKNOWN
_CONTEXT = object()  # folded value of a context-building call


def spelled(node: ast.AST) -> str | None:
    """The last name of a Name or Attribute (``ssl.CERT_NONE`` -> CERT_NONE)."""
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return None


class Bindings:
    """Every value a name (or an attribute name, or a function's return) is given in one module.

    File-wide, not per scope: a name that is False anywhere may be False where it is used. A binding
    whose value is not an expression (a parameter, a loop target, an import) is recorded as None.
    """

    def __init__(self, tree: ast.AST) -> None:
        self.names: dict[str, list[ast.AST | None]] = defaultdict(list)
        self.attributes: dict[str, list[ast.AST | None]] = defaultdict(list)
        self.returns: dict[str, list[ast.AST | None]] = defaultdict(list)
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    self._target(target, node.value)
            elif isinstance(node, ast.AnnAssign | ast.NamedExpr) and node.value is not None:
                self._target(node.target, node.value)
            elif isinstance(node, ast.AugAssign | ast.For | ast.AsyncFor | ast.comprehension):
                self._target(node.target, None)
            elif isinstance(node, ast.withitem) and node.optional_vars is not None:
                self._target(node.optional_vars, None)
            elif isinstance(node, ast.arg):
                self.names[node.arg].append(None)
            elif isinstance(node, ast.Import | ast.ImportFrom):
                for alias in node.names:
                    self.names[(alias.asname or alias.name).split(".")[0]].append(None)
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                self.names[node.name].append(None)
                found = [r.value for r in _own_returns(node)]
                self.returns[node.name].extend(found or [None])

    def _target(self, target: ast.AST, value: ast.AST | None) -> None:
        if isinstance(target, ast.Tuple | ast.List):
            values = value.elts if isinstance(value, ast.Tuple | ast.List) and \
                len(value.elts) == len(target.elts) else [None] * len(target.elts)
            for sub, sub_value in zip(target.elts, values, strict=True):
                self._target(sub, sub_value)
        elif isinstance(target, ast.Starred):
            self._target(target.value, None)
        elif isinstance(target, ast.Name):
            self.names[target.id].append(value)
        elif isinstance(target, ast.Attribute):
            self.attributes[target.attr].append(value)


def _own_returns(function: ast.AST) -> Iterable[ast.Return]:
    """The function's return statements, not those of functions nested in it."""
    pending = list(ast.iter_child_nodes(function))
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Return):
            yield ast.Return(value=node.value if node.value is not None else ast.Constant(None))
        elif not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
                            | ast.ClassDef):
            pending.extend(ast.iter_child_nodes(node))


class Judge:
    """Classifies setting values of one module as ON, OFF or UNPROVEN.

    Names are resolved once each (memoised; a name being resolved counts as unknown, which cuts
    cycles), and a name with more than ``_MAX_BINDINGS`` values is unknown: a hostile file cannot
    make the judging quadratic or exponential."""

    def __init__(self, bindings: Bindings) -> None:
        self.bindings = bindings
        self._folded: dict[tuple[str, str], Any] = {}
        self._classified: dict[tuple[str, str, str], str] = {}
        self._resolving = 0

    def classify(self, kind: str, node: ast.AST | None, depth: int = 0) -> str:
        if node is None or depth > _MAX_EXPRESSION_DEPTH:
            return UNPROVEN
        if isinstance(node, ast.IfExp):  # either branch may be taken
            return _combine([self.classify(kind, node.body, depth + 1),
                             self.classify(kind, node.orelse, depth + 1)])
        value = self.fold(node)
        if value is not UNKNOWN:
            return judge_value(kind, value)
        if isinstance(node, ast.Name | ast.Attribute) and spelled(node) not in CONSTANTS:
            return self._classify_bound(kind, ("n" if isinstance(node, ast.Name) else "a",
                                               str(spelled(node))), self._bound(node))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and self.bindings.returns.get(node.func.id):
            return self._classify_bound(kind, ("r", node.func.id),
                                        self.bindings.returns[node.func.id])
        return UNPROVEN

    def _classify_bound(self, kind: str, key: tuple[str, str],
                        found: list[ast.AST | None]) -> str:
        memo = (kind, *key)
        if memo in self._classified:
            return self._classified[memo]
        if not found or len(found) > _MAX_BINDINGS or self._resolving >= _MAX_RESOLUTION_DEPTH:
            return UNPROVEN
        self._classified[memo] = UNPROVEN  # while resolving: a cycle is unproven
        self._resolving += 1
        try:
            result = _combine([self.classify(kind, v) for v in found])
        finally:
            self._resolving -= 1
        self._classified[memo] = result
        return result

    def _bound(self, node: ast.Name | ast.Attribute) -> list[ast.AST | None]:
        if isinstance(node, ast.Name):
            return self.bindings.names.get(node.id, [])
        # obj.attr: every write to any .attr, and class-level or module-level `attr = ...`
        return self.bindings.attributes.get(node.attr, []) + \
            self.bindings.names.get(node.attr, [])

    def fold(self, node: ast.AST | None, depth: int = 0, level: int = 0) -> Any:
        """The constant ``node`` evaluates to, or UNKNOWN. Names resolve when every binding folds
        to the same value."""
        if node is None or level > _MAX_EXPRESSION_DEPTH:
            return UNKNOWN
        folded = _fold(self, node, depth, level + 1)
        if isinstance(folded, str | list | tuple | dict | set) and len(folded) > _MAX_SIZE:
            return UNKNOWN
        return folded

    def fold_name(self, node: ast.Name | ast.Attribute, depth: int) -> Any:
        name = str(spelled(node))
        if name in CONSTANTS:
            return CONSTANTS[name]
        key = ("n" if isinstance(node, ast.Name) else "a", name)
        if key in self._folded:
            return self._folded[key]
        found = self._bound(node)
        if not found or len(found) > _MAX_BINDINGS or self._resolving >= _MAX_RESOLUTION_DEPTH:
            return UNKNOWN
        self._folded[key] = UNKNOWN  # while resolving: a cycle is unknown
        result: Any = UNKNOWN
        self._resolving += 1
        try:
            for index, bound in enumerate(found):
                value = self.fold(bound)
                if value is UNKNOWN or (index and not (type(value) is type(result)
                                                       and value == result)):
                    result = UNKNOWN
                    break
                result = value
        finally:
            self._resolving -= 1
        self._folded[key] = result
        return result


def _combine(results: list[str]) -> str:
    if OFF in results:
        return OFF
    if results and all(r == ON for r in results):
        return ON
    return UNPROVEN


def judge_value(kind: str, value: Any) -> str:
    """A folded value against what its setting's kind accepts as on."""
    if value is _CONTEXT:
        return ON if kind in (BOOL_OR_CA, SSL_ARG) else UNPROVEN
    if kind == ENV_ANY:
        return OFF
    # None means "the default" to requests and urllib3 but "off" to httpx: not provable either way.
    if value is None:
        return UNPROVEN
    if kind == MODE:
        if isinstance(value, bool) or not isinstance(value, int | str):
            return UNPROVEN if value else OFF
        if value in _MODE_ON:
            return ON
        return OFF if value == 0 or str(value).upper() in ("CERT_NONE", "NONE") else UNPROVEN
    if kind == ENV_ONE:
        if isinstance(value, int | str) and not isinstance(value, bool) and str(value) == "1":
            return ON
        return OFF if str(value).strip().lower() in ("0", "", "false", "no", "off") else UNPROVEN
    if value is True and kind != ENV_CA:
        return ON
    if isinstance(value, str) and value.strip() and kind in (BOOL_OR_CA, HOSTNAME, ENV_CA):
        return ON
    try:
        return UNPROVEN if bool(value) else OFF
    except Exception:  # noqa: BLE001 - a folded value whose truth is unknowable
        return UNPROVEN


_SAFE_CALLS: dict[str, Callable[..., Any]] = {"bool": bool, "int": int, "str": str, "float": float, "len": len}
_STRING_METHODS = frozenset({"lower", "upper", "strip", "lstrip", "rstrip", "casefold", "title",
                             "capitalize", "removeprefix", "removesuffix"})


def _fold(judge: Judge, node: ast.AST, depth: int, level: int) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name | ast.Attribute):
        return judge.fold_name(node, depth)
    if isinstance(node, ast.UnaryOp):
        operand = judge.fold(node.operand, depth, level)
        if operand is UNKNOWN:
            return UNKNOWN
        try:
            if isinstance(node.op, ast.Not):
                return not operand
            if isinstance(node.op, ast.USub | ast.UAdd | ast.Invert) and \
                    isinstance(operand, int | float):
                unary: dict[type[ast.unaryop], Callable[[Any], Any]] = {
                    ast.USub: lambda x: -x, ast.UAdd: lambda x: +x, ast.Invert: lambda x: ~x}
                return unary[type(node.op)](operand)
        except Exception:  # noqa: BLE001
            return UNKNOWN
        return UNKNOWN
    if isinstance(node, ast.BoolOp):
        values = [judge.fold(v, depth, level) for v in node.values]
        if any(v is UNKNOWN for v in values):
            return UNKNOWN
        result = values[0]
        for value in values[1:]:
            if (isinstance(node.op, ast.And) and not result) or \
                    (isinstance(node.op, ast.Or) and result):
                break
            result = value
        return result
    if isinstance(node, ast.BinOp):
        return _binop(node.op, judge.fold(node.left, depth, level),
                      judge.fold(node.right, depth, level))
    if isinstance(node, ast.Compare) and len(node.ops) == 1:
        left, right = judge.fold(node.left, depth, level), judge.fold(node.comparators[0], depth,
                                                                      level)
        if UNKNOWN in (left, right):
            return UNKNOWN
        operations: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
            ast.Eq: lambda a, b: a == b, ast.NotEq: lambda a, b: a != b,
            ast.Is: lambda a, b: a is b, ast.IsNot: lambda a, b: a is not b}
        operation = operations.get(type(node.ops[0]))
        return operation(left, right) if operation else UNKNOWN
    if isinstance(node, ast.List | ast.Tuple | ast.Set):
        if len(node.elts) > _MAX_SIZE:
            return UNKNOWN
        items = [judge.fold(e, depth, level) for e in node.elts]
        if any(i is UNKNOWN for i in items):
            return UNKNOWN
        return list(items) if isinstance(node, ast.List) else tuple(items)
    if isinstance(node, ast.Dict):
        return {} if not node.keys else UNKNOWN
    if isinstance(node, ast.JoinedStr):
        parts = []
        for part in node.values:
            inner = part.value if isinstance(part, ast.FormattedValue) else part
            folded = judge.fold(inner, depth, level)
            if folded is UNKNOWN:
                return UNKNOWN
            parts.append(str(folded))
        return "".join(parts)
    if isinstance(node, ast.Subscript):
        # ssl.VerifyMode["CERT_NONE"]
        key = judge.fold(node.slice, depth, level)
        return CONSTANTS.get(key, UNKNOWN) if isinstance(key, str) else UNKNOWN
    if isinstance(node, ast.Call):
        return _call(judge, node, depth, level)
    return UNKNOWN


def _binop(op: ast.operator, left: Any, right: Any) -> Any:
    if UNKNOWN in (left, right):
        return UNKNOWN
    if isinstance(op, ast.Mult):
        # bounded: "x" * 10**9 must not be built
        count = right if isinstance(right, int) else left if isinstance(left, int) else None
        other = left if count is right else right
        if isinstance(count, bool) or count is None or \
                (isinstance(other, str | list | tuple) and len(other) * max(count, 0) > _MAX_SIZE) \
                or (isinstance(other, int) and abs(count) > 1 << 32):
            return UNKNOWN
    elif not isinstance(op, ast.Add | ast.Sub | ast.BitOr | ast.BitAnd | ast.BitXor):
        return UNKNOWN
    operations: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
        ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b,
        ast.Mult: lambda a, b: a * b, ast.BitOr: lambda a, b: a | b,
        ast.BitAnd: lambda a, b: a & b, ast.BitXor: lambda a, b: a ^ b}
    try:
        return operations[type(op)](left, right)
    except Exception:  # noqa: BLE001 - e.g. "a" - 1
        return UNKNOWN


def _call(judge: Judge, node: ast.Call, depth: int, level: int) -> Any:
    callee = spelled(node.func)
    if callee in CONTEXT_BUILDERS:
        return _CONTEXT
    if callee == "getattr" and len(node.args) >= 2:  # getattr(ssl, "CERT_" + "NONE")
        name = judge.fold(node.args[1], depth, level)
        return CONSTANTS.get(name, UNKNOWN) if isinstance(name, str) else UNKNOWN
    positional = [judge.fold(a, depth, level) for a in node.args]
    if node.keywords or any(a is UNKNOWN for a in positional):
        return UNKNOWN
    if isinstance(node.func, ast.Name) and callee in _SAFE_CALLS and len(positional) <= 1:
        try:
            return _SAFE_CALLS[callee](*positional)
        except Exception:  # noqa: BLE001 - int("x")
            return UNKNOWN
    if callee == "VerifyMode" and len(positional) == 1:
        return positional[0]
    if callee == "where" and isinstance(node.func, ast.Attribute) \
            and spelled(node.func.value) == "certifi" and not positional:
        return "<certifi CA bundle>"  # certifi.where(): the path of Mozilla's CA bundle
    if callee in ("Path", "PurePath", "join") and positional \
            and all(isinstance(p, str) for p in positional) \
            and (callee != "join" or spelled(node.func) == "join" and isinstance(
                node.func, ast.Attribute) and spelled(node.func.value) == "path"):
        return "/".join(positional)  # Path("/etc", "ca.pem"), os.path.join("/etc", "ca.pem")
    if isinstance(node.func, ast.Attribute):
        receiver = judge.fold(node.func.value, depth, level)
        if isinstance(receiver, str) and callee == "join" and len(positional) == 1 \
                and isinstance(positional[0], list | tuple) \
                and all(isinstance(p, str) for p in positional[0]):
            return receiver.join(positional[0])
        if isinstance(receiver, str) and callee in _STRING_METHODS \
                and all(isinstance(p, str) for p in positional):
            try:
                return getattr(receiver, callee)(*positional)
            except Exception:  # noqa: BLE001
                return UNKNOWN
    return UNKNOWN
