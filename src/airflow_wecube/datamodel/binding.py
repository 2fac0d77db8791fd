"""Entity-bound inputs: one ``inputs`` element per entity an expression reaches, filled from its attributes.

As WeCube does it: ``callbackParameter`` is the entity's id; an input registered with
``mappingType="entity"`` gets the value its ``mappingEntityExpression`` reaches from that entity
(``cmdb:host.ip``, or ``cmdb:app_instance.host>cmdb:host.subnet>cmdb:subnet.cidr`` through
references: one query per hop for all entities, never one per entity); inputs the caller gives win
(a dict: for every entity; a list: per entity, matched by ``callbackParameter``). ``constant``
parameters have no value in ``register.xml``: a process definition, or the caller, gives it.
Pure: no Airflow import.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from airflow_wecube.datamodel.evaluate import Evaluator, Row, unique
from airflow_wecube.datamodel.expression import Expression, ExpressionError, parse
from airflow_wecube.exceptions import WeCubeError
from airflow_wecube.registry.models import Parameter, Service

CALLBACK = "callbackParameter"
ENTITY = "entity"


class BindingError(WeCubeError):
    """Inputs or outputs cannot be mapped to the entities (every problem at once)."""


@dataclass
class Binding:
    """What an expression bound a call to: the entities (one row each) and their inputs, in order."""

    service: Service
    expression: Expression
    rows: list[Row] = field(default_factory=list)
    inputs: list[dict[str, Any]] = field(default_factory=list)


def entity_mapped(service: Service, params: Sequence[Parameter], bound: Expression) -> dict[str, Expression]:
    """``{parameter: its parsed mappingEntityExpression}`` for the ``mappingType="entity"`` ones that
    have one; an expression that does not parse, or starts elsewhere than the bound entity, is refused."""
    out, problems = {}, []
    for p in params:
        if p.mapping_type != ENTITY or not (p.mapping_entity_expression or "").strip():
            continue
        try:
            expr = parse(p.mapping_entity_expression.strip())
        except ExpressionError as e:
            problems.append(f"{p.name}: mappingEntityExpression does not parse: {e}")
            continue
        if expr.first.name != bound.last.name:
            problems.append(
                f"{p.name}: mappingEntityExpression {expr} starts at {expr.first.name}, but the call is bound to "
                f"{bound.last.name} entities"
            )
            continue
        out[p.name] = expr
    if problems:
        raise BindingError(f"{service.name}: " + "; ".join(problems))
    return out


def values_by_entity(
    evaluator: Evaluator, mapped: dict[str, Expression], rows: list[Row]
) -> dict[str, dict[str, list[Any]]]:
    """``{parameter: {entity id: [values reached]}}``; each distinct walk is evaluated once for all entities."""
    ids = [r.id for r in rows]
    walks: dict[str, dict[str, list[Row]]] = {}
    out: dict[str, dict[str, list[Any]]] = {}
    for name, expr in mapped.items():
        evaluator.check(expr)
        attr = expr.attr or "id"
        if len(expr.hops) == 1 and not expr.first.filters:  # the entity's own attribute: already read
            out[name] = {r.id: [r.data.get(attr)] for r in rows}
            continue
        key = str(expr.target())
        if key not in walks:
            grouped: dict[str, list[Row]] = {}
            found = (
                evaluator.walk(expr.target(), [Row(r.data, (r.id,)) for r in rows])
                if not expr.first.filters  # start from the rows already read: one query less
                else evaluator.evaluate(expr.target(), roots=ids)
            )
            for r in found:
                grouped.setdefault(r.root, []).append(r)
            walks[key] = grouped
        out[name] = {i: [r.data.get(attr) for r in found] for i, found in walks[key].items()}
    return out


def _value(p: Parameter, values: list[Any], entity: str, problems: list[str]) -> Any:
    if len(values) == 1 and not p.multiple:  # the common case: one value
        return values[0]
    present = [v for v in values if v not in (None, "")]
    if p.multiple:
        return present
    distinct = list(dict.fromkeys(map(str, present)))
    if len(distinct) > 1:
        problems.append(
            f"entity {entity}: {p.name} reaches {len(distinct)} values ({', '.join(distinct[:5])}) through "
            f"{p.mapping_entity_expression}, and the parameter is not multiple"
        )
    return present[0] if present else None


def bind(
    evaluator: Evaluator,
    service: Service,
    entities: str | Expression,
    *,
    root: str | None = None,
    inputs: dict[str, Any] | list[dict[str, Any]] | None = None,
) -> Binding:
    """Evaluate ``entities`` (from ``root``) and build one input per entity reached.

    :param inputs: given values, which win: a dict for every entity, or a list of dicts each naming
        the ``callbackParameter`` (entity id) it is for
    :raises BindingError: a mapping cannot be evaluated, reaches several values for a single-valued
        parameter, or ``inputs`` names an entity the expression does not reach
    """
    expr = evaluator.check(entities)
    mapped = entity_mapped(service, service.interface.inputs, expr)
    for m in mapped.values():  # every mapping is checked before the first query
        evaluator.check(m)
    binding = Binding(service, expr, unique(evaluator.evaluate(expr, root=root)))
    if not binding.rows:
        return binding
    params = {p.name: p for p in service.interface.inputs}
    values = values_by_entity(evaluator, mapped, binding.rows)
    per_entity: dict[str, dict[str, Any]] = {}
    common: dict[str, Any] = {}
    problems: list[str] = []
    if isinstance(inputs, dict):
        common = {k: v for k, v in inputs.items() if k != CALLBACK}
    elif inputs is not None:
        ids = {r.id for r in binding.rows}
        for i, item in enumerate(inputs):
            key = str(item.get(CALLBACK, "")) if isinstance(item, dict) else ""
            if key not in ids:
                problems.append(f"inputs[{i}] is for callbackParameter {key!r}, which {expr} does not reach")
            else:
                per_entity[key] = item
    for r in binding.rows:
        entity: dict[str, Any] = {CALLBACK: r.id}
        for name in mapped:
            value = _value(params[name], values[name].get(r.id, []), r.id, problems)
            if value not in (None, []):
                entity[name] = value
        entity.update(common)
        entity.update(per_entity.get(r.id, {}))
        binding.inputs.append(entity)
    if problems:
        raise BindingError(f"{service.name}: " + "; ".join(problems))
    return binding


__all__ = ["Binding", "BindingError", "bind", "entity_mapped", "values_by_entity"]
