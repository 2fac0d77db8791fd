"""Read a WeCube v4 (Go platform) process export: a JSON array of
``{"procDef": {...}, "permissionToRole": {...}, "taskNodeInfos": {"nodes": [...], "edges": [...]}}``.

Nodes and edges keep their attributes in ``customAttrs``; ``selfAttrs`` is a JSON string of the
designer's canvas (x, y, style), kept for drawing. The format is in docs/processes.md.
"""

from __future__ import annotations

import json
from typing import Any, get_args

from pydantic import ValidationError

from airflow_wecube.processes.errors import Problem, ProcessError, pydantic_messages
from airflow_wecube.processes.jsonsafe import load_json
from airflow_wecube.processes.model import (
    Diagram,
    Edge,
    Node,
    NodeType,
    ParamBinding,
    Position,
    Process,
    SubProcessRef,
    TimeConfig,
)
from airflow_wecube.processes.shape import serviceless

NODE_TYPES = get_args(NodeType)
MAX_NODES = 2000
_TRUE = (True, 1, "1", "Y", "y", "true", "True", "yes")


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _json_string(value: Any, what: str) -> dict:
    """``selfAttrs`` / ``timeConfig``: a JSON object, usually written as a string."""
    if value in (None, ""):
        return {}
    if isinstance(value, dict):
        return value
    if not isinstance(value, str) or len(value) > 64 * 1024:
        raise ValueError(f"{what} is not a JSON string")
    try:
        doc = json.loads(value)
    except (ValueError, RecursionError):
        raise ValueError(f"{what} is not valid JSON") from None
    if not isinstance(doc, dict):
        raise ValueError(f"{what} is not a JSON object")
    return doc


def _time_config(value: Any) -> TimeConfig | None:
    doc = _json_string(value, "timeConfig")
    if not doc:
        return None
    duration = doc.get("duration")
    return TimeConfig(
        duration=None if duration in (None, "") else float(duration),
        unit=doc.get("unit") or "sec",
        date=_text(doc.get("date")),
    )


def _param(p: dict) -> ParamBinding:
    return ParamBinding(
        param_name=_text(p.get("paramName")),
        bind_type=p.get("bindType") or "constant",
        bind_value=_text(p.get("bindValue")),
        bind_node_id=_text(p.get("bindNodeId")),
        bind_param_type=p.get("bindParamType") or "INPUT",
        bind_param_name=_text(p.get("bindParamName")),
        required=p.get("required") in _TRUE,
    )


def _node(attrs: dict) -> Node:
    node_type = attrs.get("nodeType")
    if node_type not in NODE_TYPES:
        raise ValueError(f"nodeType {node_type!r} is unknown; WeCube's are {', '.join(NODE_TYPES)}")
    sub = None
    if node_type == "subProc":
        sub = SubProcessRef(
            key=_text(attrs.get("subProcDefKey") or attrs.get("subProcDefId")),
            name=_text(attrs.get("subProcDefName")),
            version=_text(attrs.get("subProcDefVersion")),
        )
    timeout = attrs.get("timeout")
    dynamic = attrs.get("dynamicBind")
    params = attrs.get("paramInfos") or []
    if not isinstance(params, list) or not all(isinstance(p, dict) for p in params):
        raise ValueError("paramInfos is not a list of objects")
    return Node(
        id=_text(attrs.get("id")),
        name=_text(attrs.get("name")),
        type=node_type,
        service_name=_text(attrs.get("serviceName")),
        routine_expression=_text(attrs.get("routineExpression")),
        dynamic_bind=int(dynamic) if dynamic not in (None, "") else 0,
        bind_node_id=_text(attrs.get("bindNodeId")),
        risk_check=attrs.get("riskCheck") in _TRUE,
        timeout_minutes=None if timeout in (None, "", 0, "0") else float(timeout),
        time_config=_time_config(attrs.get("timeConfig")),
        allow_continue=attrs.get("allowContinue") in _TRUE,
        sub_process=sub,
        params=tuple(_param(p) for p in params),
        source_type=node_type,
    )


def _message(e: Exception) -> str:
    return "; ".join(pydantic_messages(e)) if isinstance(e, ValidationError) else str(e).strip()


def _one(entry: Any, source: str, index: int) -> Process:
    where = f"{source} [{index}]"
    if not isinstance(entry, dict) or not isinstance(entry.get("procDef"), dict):
        raise ProcessError(f"entry {index} has no procDef object: not a WeCube v4 process export", source=source)
    proc = entry["procDef"]
    infos = entry.get("taskNodeInfos") or {}
    raw_nodes = infos.get("nodes") if isinstance(infos, dict) else None
    raw_edges = infos.get("edges") if isinstance(infos, dict) else None
    if not isinstance(raw_nodes, list) or not isinstance(raw_edges, list):
        raise ProcessError("taskNodeInfos must hold lists 'nodes' and 'edges'", source=where)
    if len(raw_nodes) > MAX_NODES or len(raw_edges) > 2 * MAX_NODES:
        raise ProcessError(f"refused: more than {MAX_NODES} nodes", source=where)
    problems, nodes, edges, warnings, positions = [], [], [], [], {}
    for item in raw_nodes:
        attrs = item.get("customAttrs") if isinstance(item, dict) else None
        if not isinstance(attrs, dict):
            problems.append(Problem("a node has no customAttrs object", source=where))
            continue
        try:
            node, warning = serviceless(_node(attrs))
            nodes.append(node)
            warnings += [warning] if warning else []
            canvas = _json_string(item.get("selfAttrs"), "selfAttrs")
            if "x" in canvas and "y" in canvas:
                positions[node.id] = Position(x=float(canvas["x"]), y=float(canvas["y"]))
        except (ValueError, TypeError, ValidationError) as e:
            problems.append(
                Problem(_message(e), source=where, element=_text(attrs.get("id")), name=_text(attrs.get("name")))
            )
    for item in raw_edges:
        attrs = item.get("customAttrs") if isinstance(item, dict) else None
        if not isinstance(attrs, dict):
            problems.append(Problem("an edge has no customAttrs object", source=where))
            continue
        try:
            edges.append(
                Edge(
                    id=_text(attrs.get("id")),
                    name=_text(attrs.get("name")),
                    source=_text(attrs.get("source")),
                    target=_text(attrs.get("target")),
                )
            )
        except ValidationError as e:
            problems.append(Problem(_message(e), source=where, element=_text(attrs.get("id"))))
    if problems:
        raise ProcessError(problems)
    tags = proc.get("tags") or ()
    try:
        return Process(
            key=_text(proc.get("key") or proc.get("id")),
            name=_text(proc.get("name")),
            version=_text(proc.get("version")),
            root_entity=_text(proc.get("rootEntity")),
            tags=tuple(_text(t) for t in (tags.split(",") if isinstance(tags, str) else tags) if _text(t)),
            scene=_text(proc.get("scene")),
            nodes=tuple(nodes),
            edges=tuple(edges),
            diagram=Diagram(positions=positions),
            source_format="wecube-v4",
            source_file=source,
            warnings=tuple(warnings),
        )
    except ValidationError as e:
        raise ProcessError([Problem(m, source=where) for m in pydantic_messages(e)]) from None


def read_v4(data: bytes, source: str) -> list[Process]:
    """Every process of a v4 export (an array, or one object); all of them or an error."""
    doc = load_json(data, source)
    entries = doc if isinstance(doc, list) else [doc]
    if not entries:
        raise ProcessError("the export holds no process", source=source)
    out, problems = [], []
    for i, entry in enumerate(entries):
        try:
            out.append(_one(entry, source, i))
        except ProcessError as e:
            problems += e.problems
    if problems:
        raise ProcessError(problems)
    return out
