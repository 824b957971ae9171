"""What the suites read from the shared connection/v1 spec: the document, its bearer scheme, its
webhook (HMAC-signed) operations and its base path. The auth suite reads ``bearer_scheme`` here too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from harness import resources

SPEC_PATH = resources.data_path("specs", "connection", "v1", "openapi.yaml")


def load_spec(path: Path = SPEC_PATH) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(document, dict):
        # bad input, not a bug: the conformance context turns a ValueError into "suite unavailable"
        raise ValueError(f"{path}: not an OpenAPI document")  # noqa: TRY004
    return document


def bearer_scheme(spec: dict[str, Any]) -> str | None:
    schemes = (spec.get("components") or {}).get("securitySchemes") or {}
    for name, scheme in schemes.items():
        if isinstance(scheme, dict) and scheme.get("type") == "http" \
                and str(scheme.get("scheme", "")).lower() == "bearer":
            return str(name)
    return None


def hmac_operation_paths(spec: dict[str, Any]) -> list[str]:
    """Paths of the webhook operations: signed with X-NPDB-Signature, not a bearer token."""
    bearer = bearer_scheme(spec)
    schemes = (spec.get("components") or {}).get("securitySchemes") or {}
    found = []
    for path, item in (spec.get("paths") or {}).items():
        for method, operation in (item or {}).items():
            if not isinstance(operation, dict) or method.startswith("x-"):
                continue
            headers = {str(p.get("name", "")).lower() for p in operation.get("parameters") or []
                       if isinstance(p, dict)}
            security = operation.get("security", spec.get("security")) or []
            names = {n for requirement in security for n in requirement}
            signed = any(str((schemes.get(n) or {}).get("name", "")).lower() == "x-npdb-signature"
                         for n in names)
            if "x-npdb-signature" in headers or signed or (
                    names and bearer not in names and path.rstrip("/").endswith("notifications")):
                found.append(path)
    return sorted(set(found))


def base_path(spec: dict[str, Any]) -> str:
    servers = spec.get("servers") or [{}]
    return urlsplit(str(servers[0].get("url", ""))).path.rstrip("/")
