"""The process page's preview: from a root entity the user picks, the entities each node will act on
(what ``wecube_bind`` would record at start), read from the CMDB's entity API through the
``wecube_*`` connections, as ``wecube processes preview`` does. docs/processes.md, "The process view".

Errors are answers, never a 500: an unknown root is a 404, an expression the data model refuses a
422, a CMDB that refuses or cannot be reached a 502, no connection to reach it a 503.
"""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException

from airflow_wecube.datamodel.client import EntityApiError
from airflow_wecube.datamodel.evaluate import Evaluator
from airflow_wecube.datamodel.model import DataModelError
from airflow_wecube.exceptions import WeCubeError
from airflow_wecube.processes.dag_shape import task_ids
from airflow_wecube.processes.diagram import element_ids
from airflow_wecube.processes.model import Process
from airflow_wecube.processes.preview import BindError, acts, entity_row, preview, root_row
from airflow_wecube.processes.routines import routine

#: the most root candidates the page lists (the JSON says when there were more)
MAX_CANDIDATES = 500


def evaluator() -> Evaluator:
    """An evaluator over the entity API of every package, each through its ``wecube_*`` connection."""
    from airflow_wecube.hooks.entities import entity_api
    from airflow_wecube.hooks.plugin import WeCubePluginHook

    return Evaluator(entity_api(WeCubePluginHook))


def _unreachable(e: Exception) -> HTTPException:
    """A CMDB that refused or could not be reached (502); no connection to reach it (503)."""
    if isinstance(e, EntityApiError | DataModelError):
        return HTTPException(502, f"the CMDB's entity API: {e}")
    return HTTPException(503, f"no connection to the CMDB's entity API: {type(e).__name__}: {e}")


def _probe(ev: Evaluator, p: Process) -> None:
    """Read the root entity's data model first, so that an unreachable CMDB is told apart from a bad root."""
    package = routine(p.root_entity).first.package
    try:
        ev.api.data_model(package)
    except Exception as e:  # noqa: BLE001 - every failure to reach the CMDB is answered, none is a 500
        raise _unreachable(e) from None


def candidates(p: Process, ev: Evaluator) -> dict[str, Any]:
    """The entities a run of ``p`` may start from (its root entity expression, evaluated)."""
    _probe(ev, p)
    try:
        rows = [entity_row(r) for r in ev.evaluate(routine(p.root_entity))]
    except EntityApiError as e:
        raise _unreachable(e) from None
    except WeCubeError as e:  # an expression the data model refuses
        raise HTTPException(422, f"root entity {p.root_entity}: {e}") from None
    return {
        "key": p.key,
        "version": p.version,
        "root_entity": p.root_entity,
        "candidates": rows[:MAX_CANDIDATES],
        "total": len(rows),
    }


def preview_view(p: Process, ev: Evaluator, root_id: str) -> dict[str, Any]:
    """Per node that acts on entities: its element in the drawing and the entities it will act on;
    the nodes that bind when they run (dynamicBind 2) are listed apart."""
    _probe(ev, p)
    try:
        root = root_row(p, ev, root_id)
    except BindError as e:
        raise HTTPException(404, str(e)) from None
    try:
        bound = preview(p, ev, root_id)
    except EntityApiError as e:
        raise _unreachable(e) from None
    except WeCubeError as e:  # an expression the data model refuses
        raise HTTPException(422, str(e)) from None
    elements, tasks = element_ids(p), task_ids(p)
    return {
        "key": p.key,
        "version": p.version,
        "root_entity": p.root_entity,
        "root": root,
        "nodes": {
            node_id: {"element_id": elements[node_id], "task_id": tasks[node_id], "count": len(rows), "entities": rows}
            for node_id, rows in bound.items()
        },
        "at_run": [n.id for n in p.nodes if acts(n) and n.id not in bound],
        "requests": ev.api.requests,
    }


__all__ = ["MAX_CANDIDATES", "candidates", "evaluator", "preview_view"]
