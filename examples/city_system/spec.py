"""The connection API spec as the system publishes it, and input validation derived from it.

Request bodies are validated with JSON Schema against the spec itself, so what the app accepts is
exactly what the spec documents (schemathesis fuzzes the one against the other).
"""

from __future__ import annotations

import copy
from functools import lru_cache
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from harness import resources
from popcert_city.defects import active

SPEC_PATH = resources.data_path("specs", "connection", "v1", "openapi.yaml")
_SPEC_URI = "urn:popcert:connection:v1"
CREATE_SCHEMAS = {
    "1.001193": "BirthDossierCreate", "1.000894": "MarriageDossierCreate", "1.000656": "DeathDossierCreate",
    "1.004194": "ResidenceRegistrationDossierCreate", "1.004206": "ResidenceRemovalDossierCreate",
    "1.011451": "ChildInsuranceDossierCreate", "1.002045": "FuneralAllowanceDossierCreate",
}


@lru_cache(maxsize=1)
def reference_spec() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
    return loaded


def published_spec(base_url: str | None) -> dict[str, Any]:
    """What GET /openapi.json serves: the reference spec (or, under spec_drift, a drifted copy)."""
    spec = copy.deepcopy(reference_spec())
    if base_url:
        spec["servers"] = [{"url": base_url, "description": "this deployment"}]
    if active("conformance.spec_drift"):
        spec["paths"]["/connection/v1/dossiers"].pop("get", None)
        dossier = spec["components"]["schemas"]["Dossier"]
        dossier["required"] = [f for f in dossier["required"] if f != "updated_at"]
        dossier["properties"].pop("updated_at", None)
    return spec


@lru_cache(maxsize=4)
def _validators(lenient_personal_id: bool) -> dict[str, Draft202012Validator]:
    spec = copy.deepcopy(reference_spec())
    if lenient_personal_id:  # conformance.accepts_invalid_input: any string passes as an id
        for constraint in ("pattern", "minLength", "maxLength"):
            spec["components"]["schemas"]["PersonalId"].pop(constraint, None)
    registry: Registry = Registry().with_resource(_SPEC_URI, Resource.from_contents(spec, DRAFT202012))
    return {code: Draft202012Validator({"$ref": f"{_SPEC_URI}#/components/schemas/{name}"},
                                       registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER)
            for code, name in CREATE_SCHEMAS.items()}


def _notification_validator() -> Draft202012Validator:
    spec = reference_spec()
    registry: Registry = Registry().with_resource(_SPEC_URI, Resource.from_contents(spec, DRAFT202012))
    return Draft202012Validator({"$ref": f"{_SPEC_URI}#/components/schemas/Notification"},
                                registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER)


_NOTIFICATION = _notification_validator()


def dossier_errors(body: Any) -> list[str]:
    """JSON pointers of invalid fields of a dossier submission; empty when valid."""
    if not isinstance(body, dict):
        return ["/"]
    code = body.get("procedure_code")
    validators = _validators(active("conformance.accepts_invalid_input"))
    if not isinstance(code, str) or code not in validators:
        return ["/procedure_code"]
    return _pointers(validators[code], body)


def notification_errors(body: Any) -> list[str]:
    return _pointers(_NOTIFICATION, body)


def _pointers(validator: Draft202012Validator, body: Any) -> list[str]:
    pointers = sorted({"/" + "/".join(str(p) for p in error.absolute_path)
                       for error in validator.iter_errors(body)})
    return pointers[:50]
