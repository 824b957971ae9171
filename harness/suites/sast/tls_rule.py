"""popcert's own AST rule: TLS certificate or host-name verification switched off, on any object.

Bandit's B501 only knows calls spelled ``requests.get(...)``/``httpx.get(...)``; a Session or Client
built in a helper (``session.post(url, verify=False)``), ``session.verify = False``, an unverified
SSL context or ``CERT_NONE`` passes it. This rule looks at the syntax, not at the receiver's name.
Silencing urllib3's InsecureRequestWarning is reported as information only.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

# Keyword arguments that turn verification off when given False (requests, httpx, aiohttp, urllib3).
_VERIFY_KEYWORDS = frozenset({"verify", "verify_ssl", "ssl", "assert_hostname", "check_hostname"})
_UNVERIFIED_NAMES = frozenset({"_create_unverified_context", "_create_stdlib_context"})
_CERT_NONE_STRINGS = frozenset({"CERT_NONE", "NONE", "none"})
_WARNING_SILENCERS = frozenset({"disable_warnings"})


@dataclass(frozen=True)
class TlsFinding:
    line: int
    rule: str
    message: str
    severity: str  # high, or info (reported, never failing)


def scan_source(text: str, filename: str = "<source>") -> list[TlsFinding]:
    """Findings in one Python source; raises SyntaxError/ValueError when it does not parse."""
    tree = ast.parse(text, filename=filename)
    visitor = _Visitor(_names_bound_to_false(tree))
    visitor.visit(tree)
    return sorted(set(visitor.findings), key=lambda f: (f.line, f.rule))


def _is_false(node: ast.AST | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is not None and not node.value \
        and not isinstance(node.value, str)


def _names_bound_to_false(tree: ast.AST) -> frozenset[str]:
    """Names ever assigned a literal False/0 (``VERIFY = False; get(url, verify=VERIFY)``)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and _is_false(node.value):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.AnnAssign | ast.NamedExpr) and _is_false(node.value) \
                and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return frozenset(names)


def _attribute_name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return None


def _server_contexts(scope: ast.AST) -> frozenset[str]:
    """Names bound in ``scope`` to a server-side SSL context, where CERT_NONE only means that
    no client certificate is requested: ``SSLContext(PROTOCOL_TLS_SERVER)``,
    ``create_default_context(Purpose.CLIENT_AUTH)``."""
    names: set[str] = set()
    for node in ast.walk(scope):
        if not (isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)):
            continue
        arguments = [*node.value.args, *(k.value for k in node.value.keywords)]
        spelled = {_attribute_name(a) for a in arguments}
        callee = _attribute_name(node.value.func)
        if (callee == "SSLContext" and "PROTOCOL_TLS_SERVER" in spelled) or \
                (callee == "create_default_context" and "CLIENT_AUTH" in spelled):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    return frozenset(names)


class _Visitor(ast.NodeVisitor):
    def __init__(self, false_names: frozenset[str]) -> None:
        self.false_names = false_names
        self.findings: list[TlsFinding] = []
        self._servers: list[frozenset[str]] = []
        self._exempt: set[int] = set()  # CERT_NONE nodes that set a server context's client auth

    def visit_Module(self, node: ast.Module) -> None:
        top = ast.Module(body=[n for n in node.body if not isinstance(
            n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)], type_ignores=[])
        self._servers.append(_server_contexts(top))
        self.generic_visit(node)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self._servers.append(_server_contexts(node))
        self.generic_visit(node)
        self._servers.pop()

    visit_AsyncFunctionDef = visit_FunctionDef

    def _add(self, node: ast.AST, rule: str, message: str, severity: str = "high") -> None:
        self.findings.append(TlsFinding(getattr(node, "lineno", 0), rule, message, severity))

    def _off(self, node: ast.AST | None) -> bool:
        return _is_false(node) or (isinstance(node, ast.Name) and node.id in self.false_names)

    def visit_Call(self, node: ast.Call) -> None:
        callee = _attribute_name(node.func)
        for keyword in node.keywords:
            if keyword.arg in _VERIFY_KEYWORDS and self._off(keyword.value):
                self._add(keyword.value, "tls-verify-disabled",
                          f"{callee or 'a call'}(..., {keyword.arg}=False): TLS verification "
                          "switched off for this call")
            elif keyword.arg == "cert_reqs" and isinstance(keyword.value, ast.Constant) \
                    and keyword.value.value in _CERT_NONE_STRINGS:
                self._add(keyword.value, "tls-cert-none",
                          "cert_reqs='CERT_NONE': server certificates are not checked")
        if callee in _WARNING_SILENCERS:
            self._add(node, "tls-warnings-silenced",
                      f"{callee}(): insecure-request warnings silenced (often next to "
                      "verify=False)", severity="info")
        self.generic_visit(node)

    def visit_Dict(self, node: ast.Dict) -> None:
        # **{"verify": False} and kwargs dicts built before the call
        for key, value in zip(node.keys, node.values, strict=True):
            if isinstance(key, ast.Constant) and key.value in _VERIFY_KEYWORDS \
                    and self._off(value):
                self._add(key, "tls-verify-disabled",
                          f"{{'{key.value}': False}}: TLS verification switched off")
        self.generic_visit(node)

    def _assigned(self, target: ast.AST, value: ast.AST | None, node: ast.AST) -> None:
        name = _attribute_name(target)
        if not isinstance(target, ast.Attribute):
            return
        if name == "verify_mode" and isinstance(target.value, ast.Name) and value is not None \
                and _attribute_name(value) == "CERT_NONE" \
                and target.value.id in (self._servers[-1] if self._servers else ()):
            self._exempt.add(id(value))
        elif name == "verify" and self._off(value):
            self._add(node, "tls-verify-disabled",
                      "<session>.verify = False: every request of this session skips TLS "
                      "verification")
        elif name == "check_hostname" and self._off(value):
            self._add(node, "tls-hostname-unchecked",
                      "<context>.check_hostname = False: any certificate for any host is accepted")
        elif name == "_create_default_https_context":
            self._add(node, "tls-unverified-context",
                      "ssl._create_default_https_context replaced: the process-wide default "
                      "HTTPS context changed")

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            self._assigned(target, node.value, node)
        self.generic_visit(node)  # after _assigned: an exempt CERT_NONE is known by then

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self._assigned(node.target, node.value, node)
        self.generic_visit(node)

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

    def _name_use(self, node: ast.AST, name: str) -> None:
        if id(node) in self._exempt:
            return
        if name in _UNVERIFIED_NAMES:
            self._add(node, "tls-unverified-context",
                      f"ssl.{name}: an SSL context that does not verify certificates")
        elif name == "CERT_NONE":
            self._add(node, "tls-cert-none", "ssl.CERT_NONE: server certificates are not checked")
