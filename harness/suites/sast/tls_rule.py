"""popcert's own AST rule: TLS certificate or host-name verification not provably on, on any object.

An allow-list (issue 24): every place that sets ``verify``/``verify_ssl``/``ssl``/``cert_reqs``/
``check_hostname``/``assert_hostname``/``verify_mode``, or an environment variable that decides
verification (``CURL_CA_BUNDLE``, ``REQUESTS_CA_BUNDLE``, ``PYTHONHTTPSVERIFY``, ...), is judged by
its value (tls_values.py): provably on passes; provably off is a finding; anything else (a
parameter, a computed value) is a ``tls-verify-unproven`` finding the assessor may accept in the
baseline with a reason. Settings are found wherever they are written: call keywords (any receiver,
``functools.partial`` included), ``**{...}`` and other dict literals, ``x.verify = ...``,
``setattr``/``object.__setattr__``, ``x.__dict__[...]``/``vars(x)[...]``, ``os.environ[...]``,
``os.putenv``/``setdefault``/``update``, and parameter defaults that are off. Key and attribute
names are folded, so ``setattr(s, 'ver' + 'ify', False)`` is seen. Unverified contexts
(``ssl._create_unverified_context``, ``SSLContext()`` without PROTOCOL_TLS_CLIENT/SERVER,
``ssl.wrap_socket`` without ``cert_reqs``) and ``CERT_NONE`` anywhere are findings too.
Silencing urllib3's InsecureRequestWarning is reported as information only.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from harness.suites.sast.tls_values import (
    ATTRIBUTES,
    BOOL,
    ENVIRONMENT,
    HOSTNAME,
    KEYWORDS,
    MODE,
    OFF,
    ON,
    UNKNOWN,
    Bindings,
    Judge,
    spelled,
)

_UNVERIFIED_NAMES = frozenset({"_create_unverified_context", "_create_stdlib_context"})
_WARNING_SILENCERS = frozenset({"disable_warnings"})
_SETTINGS = {**KEYWORDS, **ENVIRONMENT}
# Calls that write a key: name -> index of the key among the positional arguments (the value
# follows it). setattr(obj, key, value); os.putenv(key, value); env.setdefault(key, value).
_KEY_WRITERS = {"setattr": 1, "__setattr__": 0, "setitem": 1, "__setitem__": 0, "putenv": 0,
                "setdefault": 0, "setenv": 0}
_CLIENT_OR_SERVER = frozenset({"PROTOCOL_TLS_CLIENT", "PROTOCOL_TLS_SERVER"})


@dataclass(frozen=True)
class TlsFinding:
    line: int
    rule: str
    message: str
    severity: str  # high, or info (reported, never failing)


def scan_source(text: str, filename: str = "<source>") -> list[TlsFinding]:
    """Findings in one Python source; raises SyntaxError/ValueError when it does not parse."""
    tree = ast.parse(text, filename=filename)
    visitor = _Visitor(Judge(Bindings(tree)))
    visitor.visit(tree)
    return sorted(set(visitor.findings), key=lambda f: (f.line, f.rule, f.message))


def _server_contexts(scope: ast.AST) -> frozenset[str]:
    """Names bound in ``scope`` to a server-side SSL context, where CERT_NONE only means that
    no client certificate is requested: ``SSLContext(PROTOCOL_TLS_SERVER)``,
    ``create_default_context(Purpose.CLIENT_AUTH)``."""
    names: set[str] = set()
    for node in ast.walk(scope):
        if not (isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)):
            continue
        arguments = [*node.value.args, *(k.value for k in node.value.keywords)]
        named = {spelled(a) for a in arguments}
        callee = spelled(node.value.func)
        if (callee == "SSLContext" and "PROTOCOL_TLS_SERVER" in named) or \
                (callee == "create_default_context" and "CLIENT_AUTH" in named):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    return frozenset(names)


def _shown(node: ast.AST | None) -> str:
    if node is None:
        return "<computed>"
    try:
        text = ast.unparse(node)
    except (ValueError, RecursionError):  # pragma: no cover - unparse of a parsed tree
        return "<expression>"
    return text if len(text) <= 60 else text[:57] + "..."


class _Visitor(ast.NodeVisitor):
    def __init__(self, judge: Judge) -> None:
        self.judge = judge
        self.findings: list[TlsFinding] = []
        self._servers: list[frozenset[str]] = []
        self._covered: set[int] = set()  # nodes already judged inside a setting's value

    # --- scopes ---------------------------------------------------------------------------------
    def visit_Module(self, node: ast.Module) -> None:
        top = ast.Module(body=[n for n in node.body if not isinstance(
            n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)], type_ignores=[])
        self._servers.append(_server_contexts(top))
        self.generic_visit(node)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self._servers.append(_server_contexts(node))
        self._defaults(node.args)
        self.generic_visit(node)
        self._servers.pop()

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._defaults(node.args)
        self.generic_visit(node)

    # --- findings -------------------------------------------------------------------------------
    def _add(self, node: ast.AST, rule: str, message: str, severity: str = "high") -> None:
        self.findings.append(TlsFinding(getattr(node, "lineno", 0), rule, message, severity))

    def _setting(self, where: ast.AST, name: str, value: ast.AST | None, spelling: str,
                 kind: str | None = None) -> None:
        """Judge one write of setting ``name`` (``value`` None: not an expression, unprovable)."""
        kind = kind or _SETTINGS[name]
        verdict = self.judge.classify(kind, value)
        if verdict == OFF and value is not None:  # one finding, not one more per CERT_NONE in it
            self._covered |= {id(n) for n in ast.walk(value)}
        if verdict == ON:
            return
        shown = spelling.replace("VALUE", _shown(value))
        if verdict == OFF:
            rule = ("tls-cert-none" if kind == MODE else
                    "tls-hostname-unchecked" if kind in (BOOL, HOSTNAME) else
                    "tls-env-disabled" if name in ENVIRONMENT else "tls-verify-disabled")
            self._add(where, rule, f"{shown}: TLS verification switched off")
        else:
            self._add(where, "tls-verify-unproven",
                      f"{shown}: not provably 'verify on' (True, a CA path, CERT_REQUIRED, an "
                      "SSL context); if it always is, accept it in the baseline with the reason")

    def _defaults(self, arguments: ast.arguments) -> None:
        """``def fetch(url, verify=False)``: a default that is off (other defaults are judged
        where the parameter is passed on)."""
        positional = [*arguments.posonlyargs, *arguments.args]
        pairs = list(zip(positional[len(positional) - len(arguments.defaults):],
                         arguments.defaults, strict=True))
        pairs += [(a, d) for a, d in zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True)
                  if d is not None]
        for argument, default in pairs:
            if argument.arg in KEYWORDS and \
                    self.judge.classify(KEYWORDS[argument.arg], default) == OFF:
                self._setting(default, argument.arg, default, f"default {argument.arg}=VALUE")

    def _key(self, node: ast.AST | None) -> str | None:
        folded = self.judge.fold(node) if node is not None else UNKNOWN
        return folded if isinstance(folded, str) else None

    # --- where settings are written -------------------------------------------------------------
    def visit_Call(self, node: ast.Call) -> None:
        callee = spelled(node.func)
        for keyword in node.keywords:
            if keyword.arg in _SETTINGS:
                self._setting(keyword.value, keyword.arg, keyword.value,
                              f"{callee or 'a call'}(..., {keyword.arg}=VALUE)")
        self._key_writer(node, callee)
        if callee in _WARNING_SILENCERS:
            self._add(node, "tls-warnings-silenced",
                      f"{callee}(): insecure-request warnings silenced (often next to "
                      "verify=False)", severity="info")
        elif callee == "SSLContext":
            protocol = node.args[0] if node.args else next(
                (k.value for k in node.keywords if k.arg == "protocol"), None)
            if protocol is None or spelled(protocol) not in _CLIENT_OR_SERVER:
                self._add(node, "tls-unverified-context",
                          "SSLContext() without PROTOCOL_TLS_CLIENT (or _SERVER): it checks no "
                          "certificate and no host name by default")
        elif callee == "wrap_socket" and isinstance(node.func, ast.Attribute) \
                and spelled(node.func.value) == "ssl" \
                and not any(k.arg == "cert_reqs" for k in node.keywords):
            self._add(node, "tls-unverified-context",
                      "ssl.wrap_socket() without cert_reqs: certificates are not checked")
        self.generic_visit(node)

    def _key_writer(self, node: ast.Call, callee: str | None) -> None:
        at = _KEY_WRITERS.get(callee or "")
        if at is None:
            return
        if callee in ("__setattr__", "__setitem__") and len(node.args) == 3:
            at = 1  # object.__setattr__(session, "verify", False)
        if len(node.args) < at + 2:
            return
        key = self._key(node.args[at])
        names = ATTRIBUTES if callee in ("setattr", "__setattr__") else _SETTINGS
        if key in names:
            self._setting(node, key, node.args[at + 1], f"{callee}(..., {key!r}, VALUE)",
                          names[key])
        elif key == "_create_default_https_context":
            self._replaced_default(node)

    def visit_Dict(self, node: ast.Dict) -> None:
        # **{"verify": False}, kwargs dicts built before the call, env={...}, __dict__.update({...})
        for key, value in zip(node.keys, node.values, strict=True):
            name = self._key(key)
            if name in _SETTINGS:
                self._setting(key or value, name, value, f"{{{name!r}: VALUE}}")
        self.generic_visit(node)

    def _stored(self, target: ast.AST, value: ast.AST | None, node: ast.AST) -> None:
        if isinstance(target, ast.Tuple | ast.List):
            values = value.elts if isinstance(value, ast.Tuple | ast.List) and \
                len(value.elts) == len(target.elts) else [None] * len(target.elts)
            for sub, sub_value in zip(target.elts, values, strict=True):
                self._stored(sub, sub_value, node)
        elif isinstance(target, ast.Starred):
            self._stored(target.value, None, node)
        elif isinstance(target, ast.Attribute):
            self._attribute_store(target, value, node)
        elif isinstance(target, ast.Subscript):
            # os.environ["CURL_CA_BUNDLE"] = ""; session.__dict__["verify"] = False; kwargs[...]
            key = self._key(target.slice)
            if key in _SETTINGS:
                self._setting(node, key, value, f"[{key!r}] = VALUE")

    def _attribute_store(self, target: ast.Attribute, value: ast.AST | None,
                         node: ast.AST) -> None:
        name = target.attr
        if name == "_create_default_https_context":
            self._replaced_default(node)
            return
        if name not in ATTRIBUTES:
            return
        servers = self._servers[-1] if self._servers else frozenset()
        if name in ("verify_mode", "check_hostname") and isinstance(target.value, ast.Name) \
                and target.value.id in servers:
            if value is not None:  # a server context's client-certificate policy, not ours
                self._covered |= {id(n) for n in ast.walk(value)}
            return
        self._setting(node, name, value, f"{_shown(target)} = VALUE")

    def _replaced_default(self, node: ast.AST) -> None:
        self._add(node, "tls-unverified-context",
                  "ssl._create_default_https_context replaced: the process-wide default "
                  "HTTPS context changed")

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            self._stored(target, node.value, node)
        self.generic_visit(node)  # after _stored: the covered value nodes are known by then

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self._stored(node.target, node.value, node)
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self._stored(node.target, None, node)
        self.generic_visit(node)

    def visit_For(self, node: ast.For | ast.AsyncFor) -> None:
        self._stored(node.target, None, node)
        self.generic_visit(node)

    visit_AsyncFor = visit_For

    def visit_withitem(self, node: ast.withitem) -> None:
        if node.optional_vars is not None:
            self._stored(node.optional_vars, None, node.context_expr)
        self.generic_visit(node)

    # --- names that mean "unverified" wherever they appear --------------------------------------
    def visit_Attribute(self, node: ast.Attribute) -> None:
        self._name_use(node, node.attr)
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        self._name_use(node, node.id)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        for alias in node.names:
            self._name_use(node, alias.name)

    def visit_Constant(self, node: ast.Constant) -> None:
        # getattr(ssl, "_create_unverified_context") spells the name as a string
        if isinstance(node.value, str) and node.value in _UNVERIFIED_NAMES | {"CERT_NONE"}:
            self._name_use(node, node.value)

    def visit_BinOp(self, node: ast.BinOp) -> None:
        # getattr(ssl, "_create_" + "unverified_context"): the folded string
        folded = self.judge.fold(node) if isinstance(node.op, ast.Add) else UNKNOWN
        if isinstance(folded, str) and folded in _UNVERIFIED_NAMES | {"CERT_NONE"}:
            self._name_use(node, folded)
        self.generic_visit(node)

    def _name_use(self, node: ast.AST, name: str) -> None:
        if id(node) in self._covered:
            return
        if name in _UNVERIFIED_NAMES:
            self._add(node, "tls-unverified-context",
                      f"ssl.{name}: an SSL context that does not verify certificates")
        elif name == "CERT_NONE":
            self._add(node, "tls-cert-none", "ssl.CERT_NONE: server certificates are not checked")
