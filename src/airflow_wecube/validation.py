"""Check plugin inputs against an interface's declared parameters, before any HTTP call.

Pure: no Airflow import. Every problem is collected so the user fixes them in one go.
"""

from __future__ import annotations

from typing import Any

from airflow_wecube.exceptions import ParameterValidationError
from airflow_wecube.registry.models import Parameter, Service

CALLBACK = "callbackParameter"

_SCALARS = (str, int, float, bool)


def _type_ok(p: Parameter, value: Any) -> bool:
    if p.datatype == "string":
        return isinstance(value, _SCALARS)
    if p.datatype == "int":
        if isinstance(value, bool):
            return False
        if isinstance(value, int):
            return True
        return isinstance(value, str) and value.strip().lstrip("-").isdigit()
    if p.datatype == "object":
        return isinstance(value, (dict, list))
    if p.datatype == "list":
        return isinstance(value, list)
    return True


def check_value(p: Parameter, value: Any) -> str | None:
    """A problem with one value, or None."""
    if p.multiple and isinstance(value, list) and p.datatype != "list":
        bad = [v for v in value if not _type_ok(p, v)]
        return f"{p.name}: expected a list of {p.datatype}, got {type(bad[0]).__name__} item" if bad else None
    if not _type_ok(p, value):
        return f"{p.name}: expected {p.datatype}, got {type(value).__name__}"
    return None


def normalise_inputs(inputs: dict[str, Any] | list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One dict per entity, each with a ``callbackParameter`` (its index when not given)."""
    if isinstance(inputs, dict):
        inputs = [inputs]
    if not isinstance(inputs, (list, tuple)):
        raise TypeError(f"inputs must be a dict (one entity) or a list of dicts, got {type(inputs).__name__}")
    out = []
    for i, entity in enumerate(inputs):
        if not isinstance(entity, dict):
            raise TypeError(f"inputs[{i}] must be a dict, got {type(entity).__name__}")
        entity = dict(entity)
        entity[CALLBACK] = str(entity.get(CALLBACK, i))
        out.append(entity)
    return out


def validate_inputs(service: Service, inputs: list[dict[str, Any]]) -> None:
    """Raise :class:`ParameterValidationError` listing every problem in every entity."""
    params = {p.name: p for p in service.interface.inputs}
    problems: list[str] = []
    if not inputs:
        problems.append("no entities: inputs is empty")
    callbacks = [e.get(CALLBACK) for e in inputs]
    dupes = sorted({str(c) for c in callbacks if callbacks.count(c) > 1})
    if dupes:
        problems.append(f"callbackParameter not unique: {', '.join(dupes)}")
    for i, entity in enumerate(inputs):
        where = f"entity {entity.get(CALLBACK, i)!s}" if len(inputs) > 1 else "input"
        missing = [n for n, p in params.items() if p.required and entity.get(n) in (None, "")]
        if missing:
            problems.append(f"{where}: missing required {', '.join(missing)}")
        unknown = sorted(k for k in entity if k not in params and k != CALLBACK)
        if unknown:
            problems.append(f"{where}: unknown parameter(s) {', '.join(unknown)} (declared: {', '.join(params) or 'none'})")
        for name, value in entity.items():
            if name in params and value is not None:
                msg = check_value(params[name], value)
                if msg:
                    problems.append(f"{where}: {msg}")
    if problems:
        raise ParameterValidationError(service.name, problems)
