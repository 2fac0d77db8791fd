"""Processes: every imported process with its versions, last runs and DAG, and a process page that
draws it with bpmn.io's viewer; with ``?run_id=`` each node is coloured by its task's state in
that run (polled while the run goes on) and a click shows what the node recorded. Without a run,
the preview: from a root entity the user picks, each node's entity count on the drawing.

JSON twins under ``/api/processes``. The viewer is vendored (``static/bpmn-js``, its README) and
served here behind the Airflow login: nothing is fetched from the internet. docs/processes.md,
"The process view".
"""

from __future__ import annotations

from importlib import resources
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response

from airflow_wecube.exceptions import WeCubeError
from airflow_wecube.processes.dag_shape import task_ids
from airflow_wecube.processes.diagram import bpmn_xml, element_ids
from airflow_wecube.processes.model import Process
from airflow_wecube.ui import links, process_preview, process_runs
from airflow_wecube.ui.auth import READ_RUNS, readable_dag_ids
from airflow_wecube.ui.render import app_root, render

router = APIRouter(dependencies=READ_RUNS)

BPMN_JS_VERSION = "18.31.1"
#: the only files ``/static/`` serves: name -> media type
STATIC = {
    "bpmn-js/bpmn-navigated-viewer.production.min.js": "text/javascript",
    "bpmn-js/diagram-js.css": "text/css",
    "bpmn-js/bpmn-js.css": "text/css",
    "bpmn-js/LICENSE": "text/plain",
    "process_view.js": "text/javascript",
}
#: the task states the drawing colours, in the legend's order, with what the legend says
LEGEND = (
    ("none", "not started"),
    ("scheduled", "scheduled"),
    ("queued", "queued"),
    ("running", "running"),
    ("awaiting_input", "waiting for a person"),
    ("deferred", "deferred (waiting)"),
    ("up_for_retry", "up for retry"),
    ("success", "success"),
    ("failed", "failed"),
    ("upstream_failed", "upstream failed"),
    ("skipped", "skipped"),
)


def store():
    from airflow_wecube.processes.store import default_process_store

    return default_process_store()


def _process(key: str, version: str | None = None) -> Process:
    try:
        return store().get(key, version)
    except WeCubeError as e:
        raise HTTPException(404, str(e)) from None


def _readable(dag_id: str, dag_ids: set[str] | None) -> None:
    if dag_ids is not None and dag_id not in dag_ids:
        raise HTTPException(403, f"no read access to DAG {dag_id}")


def process_list(dag_ids: set[str] | None) -> dict[str, Any]:
    """Every stored process (its highest version), with its versions, DAG and last runs."""
    s = store()
    rows, errors = [], []
    for key, versions in s.processes().items():
        try:
            p = s.get(key)
        except WeCubeError as e:  # one broken file must not hide the others
            errors.append(str(e))
            continue
        rows.append({**p.summary(), "versions": versions, "dag_url": links.dag_url(p.dag_id), "warnings": p.warnings})
    runs = process_runs.last_runs([r["dag_id"] for r in rows], readable=dag_ids)
    for r in rows:
        r["last_runs"] = runs.get(r["dag_id"], [])
    return {"items": rows, "total": len(rows), "errors": errors, "store": str(s.root)}


def process_detail(p: Process, versions: list[str], root: str) -> dict[str, Any]:
    """The process with, per node, its element in the drawing and its task in the DAG."""
    elements, tasks = element_ids(p), task_ids(p)
    q = f"?version={p.version}"
    return {
        **p.summary(),
        "versions": versions,
        "tags": list(p.tags),
        "warnings": list(p.warnings),
        "dag_url": links.dag_url(p.dag_id),
        "nodes": [
            {
                "id": n.id,
                "name": n.name,
                "type": n.type,
                "element_id": elements[n.id],
                "task_id": tasks[n.id],
                "service": n.service_name,
                "service_version": n.service_version,
                "routine_expression": n.routine_expression,
                "note": n.note,
            }
            for n in p.nodes
        ],
        "diagram_url": f"{root}/api/processes/{p.key}/diagram{q}",
    }


def run_view(p: Process, run_id: str) -> dict[str, Any]:
    """A run's state and each node's (one per node, from its task instances)."""
    run = process_runs.run_state(p.dag_id, run_id)
    if run is None:
        raise HTTPException(404, f"DAG {p.dag_id} has no run {run_id!r}")
    states = process_runs.task_states(p.dag_id, run_id)
    nodes = {}
    for node_id, task_id in task_ids(p).items():
        instances = states.get(task_id, [])
        nodes[node_id] = {
            "task_id": task_id,
            "state": process_runs.node_state(instances) if instances else None,
            "instances": len(instances),
            "try_number": max((i["try_number"] or 0 for i in instances), default=0),
            "log_url": links.log_url(p.dag_id, run_id, task_id, instances[0]["map_index"] if instances else -1),
        }
    return {"key": p.key, "version": p.version, "dag_id": p.dag_id, "run": run, "nodes": nodes}


def node_view(p: Process, run_id: str, node_id: str) -> dict[str, Any]:
    """What one node did in a run: entities, per-entity request and answer, log, inbox item."""
    try:
        node = p.node(node_id)
    except KeyError:
        raise HTTPException(404, f"process {p.key} has no node {node_id!r}") from None
    if process_runs.run_state(p.dag_id, run_id) is None:
        raise HTTPException(404, f"DAG {p.dag_id} has no run {run_id!r}")
    task_id = task_ids(p)[node_id]
    instances = process_runs.task_states(p.dag_id, run_id).get(task_id, [])
    return {
        "node": {"id": node.id, "name": node.name, "type": node.type, "service": node.service_name},
        "task_id": task_id,
        "state": process_runs.node_state(instances) if instances else None,
        "instances": instances,
        "log_url": links.log_url(p.dag_id, run_id, task_id, instances[0]["map_index"] if instances else -1),
        "bound": process_runs.bound_entities(p.dag_id, run_id, node_id),
        "record": process_runs.node_record(p.dag_id, run_id, task_id),
        "inbox": process_runs.inbox_items(p.dag_id, run_id, task_id) if node.type == "human" else [],
    }


# ------------------------------------------------------------------------------------------ JSON


@router.get("/api/processes")
def api_processes(dag_ids: set[str] = Depends(readable_dag_ids)) -> dict[str, Any]:
    """Every process: versions, node counts, its DAG and its last runs."""
    return process_list(dag_ids)


@router.get("/api/processes/{key}")
def api_process(request: Request, key: str, version: str | None = None) -> dict[str, Any]:
    p = _process(key, version)
    return process_detail(p, store().processes().get(key, []), app_root(request))


@router.get("/api/processes/{key}/diagram")
def api_diagram(key: str, version: str | None = None) -> Response:
    """The BPMN XML (with its diagram) the page draws."""
    return Response(bpmn_xml(_process(key, version)), media_type="application/xml")


@router.get("/api/processes/{key}/runs/{run_id}")
def api_run(
    key: str, run_id: str, version: str | None = None, dag_ids: set[str] = Depends(readable_dag_ids)
) -> dict[str, Any]:
    """The run's state and each node's task state (what the page polls)."""
    p = _process(key, version)
    _readable(p.dag_id, dag_ids)
    return run_view(p, run_id)


@router.get("/api/processes/{key}/runs/{run_id}/nodes/{node_id}")
def api_node(
    key: str, run_id: str, node_id: str, version: str | None = None, dag_ids: set[str] = Depends(readable_dag_ids)
) -> dict[str, Any]:
    """One node in a run: its bound entities, its calls (masked), its log link, its inbox item."""
    p = _process(key, version)
    _readable(p.dag_id, dag_ids)
    return node_view(p, run_id, node_id)


@router.get("/api/processes/{key}/preview")
def api_preview(
    key: str,
    root: str | None = Query(None, min_length=1, max_length=250),
    version: str | None = None,
    dag_ids: set[str] = Depends(readable_dag_ids),
) -> dict[str, Any]:
    """The entities each node will act on from root entity ``root``; without it, the root candidates.
    Read from the CMDB's entity API: 404 unknown root, 422 refused expression, 502/503 CMDB not reached."""
    p = _process(key, version)
    _readable(p.dag_id, dag_ids)
    ev = process_preview.evaluator()
    return process_preview.candidates(p, ev) if root is None else process_preview.preview_view(p, ev, root)


# ------------------------------------------------------------------------------------------ pages


@router.get("/static/{name:path}")
def static(name: str) -> Response:
    """The vendored viewer and the page's script (an allow-list: no other file is served)."""
    if name not in STATIC:
        raise HTTPException(404, "no such file")
    data = resources.files("airflow_wecube.ui").joinpath("static", *name.split("/")).read_bytes()
    return Response(data, media_type=STATIC[name], headers={"Cache-Control": "private, max-age=3600"})


@router.get("/processes")
def page_processes(request: Request, dag_ids: set[str] = Depends(readable_dag_ids)):
    return render(request, "processes.html", active="processes", listing=process_list(dag_ids))


@router.get("/processes/{key}")
def page_process(
    request: Request,
    key: str,
    version: str | None = None,
    run_id: str | None = Query(None, max_length=250),
    dag_ids: set[str] = Depends(readable_dag_ids),
):
    root = app_root(request)
    p = _process(key, version)
    detail = process_detail(p, store().processes().get(key, []), root)
    runs = process_runs.last_runs([p.dag_id], per_dag=10, readable=dag_ids)[p.dag_id]
    view: dict[str, Any] = {
        "key": p.key,
        "version": p.version,
        "nodes": {n["id"]: n for n in detail["nodes"]},
        "diagram_url": detail["diagram_url"],
        "run_id": run_id,
        "preview_url": f"{root}/api/processes/{p.key}/preview?version={quote(p.version, safe='')}",
    }
    if run_id:
        _readable(p.dag_id, dag_ids)
        view["run"] = run_view(p, run_id)
        base = f"{root}/api/processes/{p.key}/runs/{quote(run_id, safe='')}"
        view["run_url"] = f"{base}?version={p.version}"
        view["node_url"] = f"{base}/nodes/{{node}}?version={p.version}"
    return render(
        request,
        "process.html",
        active="processes",
        process=detail,
        runs=runs,
        run_id=run_id,
        view=view,
        legend=LEGEND,
        bpmn_js_version=BPMN_JS_VERSION,
    )
