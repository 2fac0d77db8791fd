"""A node's own inputs: its constant bindings and its context bindings, per bound entity.

A context binding names the start node (one of its system values: ``procInstId``, ``procDefKey``,
``procDefName``, ``rootEntityId``, ``rootEntityName``, ``procStartTime``, ``procExecutor``) or
another node and one of the inputs or outputs that node recorded **for the same entity path**: the
call of that node whose entity lies on this entity's path from the root (the nearest one). Pure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from airflow_wecube.datamodel.evaluate import PATH_SEP
from airflow_wecube.exceptions import WeCubeError
from airflow_wecube.processes.model import Node, Process
from airflow_wecube.util.secrets import MASK

CALLBACK = "callbackParameter"


class InputError(WeCubeError):
    """A binding has no value (every problem at once)."""


def system_values(
    process: Process, root: Mapping[str, Any], *, dag_id: str, run_id: str, start: str, executor: str | None
) -> dict[str, str]:
    """The start node's system values for one run."""
    return {
        "procInstId": f"{dag_id}/{run_id}",
        "procDefKey": process.key,
        "procDefName": process.name or process.key,
        "rootEntityId": str(root.get("id", "")),
        "rootEntityName": str(root.get("displayName", "")),
        "procStartTime": start,
        "procExecutor": executor or "airflow",
    }


def _recorded(calls: Sequence[Mapping[str, Any]], path: str) -> Mapping[str, Any] | None:
    """The call recorded for the nearest entity on ``path`` (the entity itself, else its ancestors)."""
    by_entity = {str(c.get(CALLBACK)): c for c in calls}
    for entity in reversed(path.split(PATH_SEP)):
        if entity in by_entity:
            return by_entity[entity]
    return None


def node_inputs(
    process: Process,
    node: Node,
    entities: Sequence[Mapping[str, Any]],
    system: Mapping[str, str],
    records: Mapping[str, Sequence[Mapping[str, Any]]],
) -> list[dict[str, Any]]:
    """One dict per entity (``callbackParameter`` first) with the node's constant and context inputs.

    :param records: ``{node id: calls}`` as the nodes recorded them (XCom ``wecube_node``)
    :raises InputError: a required binding has no value, or names a masked (sensitive) one
    """
    starts = {n.id for n in process.nodes if n.type == "start"}
    problems: list[str] = []
    out = []
    for e in entities:
        values: dict[str, Any] = {CALLBACK: e["id"]}
        for p in node.params:
            value: Any = None
            if p.bind_type == "constant":
                value = p.bind_value
            elif p.bind_node_id in starts or not p.bind_node_id:
                value = system.get(p.bind_param_name or p.bind_value)
            else:
                call = _recorded(records.get(p.bind_node_id, ()), e.get("path") or e["id"])
                if call is not None:
                    value = (call.get("inputs") if p.bind_param_type == "INPUT" else call.get("output") or {}).get(
                        p.bind_param_name
                    )
                if value == MASK:
                    problems.append(
                        f"entity {e['id']}: {p.param_name} would be node {p.bind_node_id}'s sensitive "
                        f"{p.bind_param_name}, which is not recorded"
                    )
                    continue
            if value in (None, ""):
                if p.required:
                    where = "a constant" if p.bind_type == "constant" else f"{p.bind_node_id}/{p.bind_param_type}/"
                    problems.append(
                        f"entity {e['id']}: required {p.param_name} has no value "
                        f"({where}{p.bind_param_name if p.bind_type == 'context' else ''})"
                    )
                continue
            values[p.param_name] = value
        out.append(values)
    if problems:
        raise InputError(f"node {node.id}: " + "; ".join(problems))
    return out


__all__ = ["InputError", "node_inputs", "system_values"]
