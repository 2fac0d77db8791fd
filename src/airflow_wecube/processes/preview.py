"""Which entities each node of a process acts on, for one root entity: the preview and the bindings.

``wecube processes preview KEY --root ID`` prints :func:`preview`; the run's first task
(``wecube_bind``) records :func:`bindings` once, and every node acts on what it recorded, so a
node cleared and run again acts on the same entities (docs/processes.md, "Bindings").

- ``dynamicBind`` 0: the node's routine expression, evaluated from the root entity at start;
- 1: node ``bindNodeId``'s entities (after that node's exclusions);
- 2: evaluated when the node runs (not in the preview: :data:`AT_RUN`).

``exclude`` (``{node id: [entity id, ...]}``) removes the entities a person deselected at start;
they are never acted on. Pure: the entity API is reached through the evaluator passed in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from airflow_wecube.datamodel.evaluate import Evaluator, Row, unique
from airflow_wecube.exceptions import WeCubeError
from airflow_wecube.processes.model import Node, Process
from airflow_wecube.processes.routines import routine

#: a node whose entities are evaluated when it runs (dynamicBind 2)
AT_RUN = "evaluated when the node runs"


class BindError(WeCubeError):
    """The bindings cannot be computed (no root entity, an expression the data model refuses...)."""


def acts(node: Node) -> bool:
    """Nodes that act on entities."""
    return node.type in ("automatic", "data", "subProc") or (node.type == "human" and bool(node.routine_expression))


def entity_row(row: Row) -> dict[str, Any]:
    """An entity as the contract records it: id, displayName and its path from the root."""
    return {
        "id": row.id,
        "displayName": str(row.data.get("displayName") or row.data.get("name") or row.id),
        "path": row.path_text,
    }


def evaluate_node(evaluator: Evaluator, node: Node, root_id: str) -> list[dict[str, Any]]:
    """The entities a node's routine expression reaches from the root entity."""
    try:
        expr = evaluator.check(routine(node.routine_expression))
        return [entity_row(r) for r in unique(evaluator.evaluate(expr, root=root_id))]
    except WeCubeError as e:
        raise BindError(f"node {node.id} ({node.name}): {node.routine_expression}: {e}") from None


def root_row(process: Process, evaluator: Evaluator, root_id: str) -> dict[str, Any]:
    """The root entity (it must exist and match the process's root entity expression)."""
    if not str(root_id or "").strip():
        raise BindError(f"process {process.key} needs a root entity id ({process.root_entity})")
    try:
        rows = evaluator.evaluate(routine(process.root_entity), root=str(root_id))
    except WeCubeError as e:
        raise BindError(f"root entity {root_id}: {e}") from None
    if not rows:
        raise BindError(f"no {process.root_entity} has id {root_id!r}")
    return entity_row(rows[0])


def _excluded(exclude: Mapping[str, Sequence[str]] | None, node_id: str) -> set[str]:
    return {str(i) for i in (exclude or {}).get(node_id, ())}


def preview(
    process: Process, evaluator: Evaluator, root_id: str, exclude: Mapping[str, Sequence[str]] | None = None
) -> dict[str, list[dict[str, Any]]]:
    """``{node id: [entity rows]}`` for every node that acts on entities and binds at start
    (dynamicBind 0 and 1), in the process's node order."""
    root_row(process, evaluator, root_id)
    out: dict[str, list[dict[str, Any]]] = {}
    by_id = {n.id: n for n in process.nodes}
    pending = [n for n in process.nodes if acts(n) and n.dynamic_bind != 2]
    for node in pending:
        if node.dynamic_bind == 0:
            out[node.id] = evaluate_node(evaluator, node, root_id)
    for _ in range(len(pending)):  # dynamicBind 1 chains: a node may reuse one that reuses another
        for node in pending:
            if node.dynamic_bind == 1 and node.id not in out and node.bind_node_id in out:
                source = by_id[node.bind_node_id]
                out[node.id] = [r for r in out[source.id] if r["id"] not in _excluded(exclude, source.id)]
    for node in pending:
        if node.id not in out:
            raise BindError(f"node {node.id}: dynamicBind 1 reuses {node.bind_node_id!r}, which binds no entities")
        gone = _excluded(exclude, node.id)
        out[node.id] = [r for r in out[node.id] if r["id"] not in gone]
    return {n.id: out[n.id] for n in process.nodes if n.id in out}


def bindings(
    process: Process, evaluator: Evaluator, root_id: str, exclude: Mapping[str, Sequence[str]] | None = None
) -> dict[str, Any]:
    """What ``wecube_bind`` records: ``{"root": {id, displayName}, "nodes": {node id: rows}, "exclude"}``."""
    root = root_row(process, evaluator, root_id)
    unknown = sorted(set(exclude or {}) - {n.id for n in process.nodes})
    if unknown:
        raise BindError(f"exclude names nodes the process does not have: {', '.join(unknown)}")
    return {
        "root": {"id": root["id"], "displayName": root["displayName"]},
        "nodes": preview(process, evaluator, root_id, exclude),
        "exclude": {k: sorted(_excluded(exclude, k)) for k in exclude or {}},
    }


__all__ = ["AT_RUN", "BindError", "acts", "bindings", "entity_row", "evaluate_node", "preview", "root_row"]
