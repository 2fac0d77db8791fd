"""Read a WeCube v2/v3 ``.pds`` export: base64 of a JSON whose ``procDefData`` is the BPMN XML
(flows, gateways, timers) and whose ``taskNodeInfos`` bind each task element to a service.

A ``subProcess`` element is a plugin task there; ``taskCategory`` says which kind (SSTN service,
SUTN human, SDTN data; null in older exports = service). The file format is in
../shared/fixtures/wecube-procdef/README.md and docs/processes.md.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from pydantic import ValidationError

from airflow_wecube.processes.bpmn import build_nodes, mark_defaults
from airflow_wecube.processes.bpmn_graph import Draft, read_graph
from airflow_wecube.processes.errors import Problem, ProcessError, pydantic_messages
from airflow_wecube.processes.jsonsafe import load_json
from airflow_wecube.processes.model import Diagram, ParamBinding, Process
from airflow_wecube.processes.xmlsafe import parse_xml

MAX_XML_CHARS = 4 * 1024 * 1024
MAX_NODE_INFOS = 5000
CATEGORIES = {"SSTN": "automatic", "SUTN": "human", "SDTN": "data", None: "automatic", "": "automatic"}
REQUIRED_KEYS = ("procDefKey", "procDefName", "procDefVersion", "rootEntity", "procDefData", "taskNodeInfos")


def decode_pds(data: bytes, source: str) -> dict[str, Any]:
    """The export's JSON object; base64 and JSON problems refused with the file named."""
    try:
        raw = base64.b64decode(b"".join(data.split()), validate=True)
    except (binascii.Error, ValueError) as e:
        raise ProcessError(f"not base64 ({e}): a .pds export is base64 of a JSON document", source=source) from None
    doc = load_json(raw, source)
    if not isinstance(doc, dict):
        raise ProcessError("the decoded .pds is not a JSON object", source=source)
    missing = [k for k in REQUIRED_KEYS if k not in doc]
    if missing:
        raise ProcessError(f"the decoded .pds lacks {', '.join(missing)}: not a WeCube process export", source=source)
    return doc


def _param(info: dict) -> ParamBinding:
    return ParamBinding(
        param_name=str(info.get("paramName") or ""),
        bind_type=info.get("bindType") or "constant",
        bind_value=str(info.get("bindValue") or ""),
        bind_node_id=str(info.get("bindNodeId") or ""),
        bind_param_type=info.get("bindParamType") or "INPUT",
        bind_param_name=str(info.get("bindParamName") or ""),
        required=str(info.get("required") or "").upper() in ("Y", "TRUE"),
    )


def _timeout(value) -> float | None:
    if value in (None, ""):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"timeoutExpression {value!r} is not a number of minutes") from None


def read_pds(data: bytes, source: str) -> Process:
    """A ``.pds`` export as a process; :class:`ProcessError` lists every problem."""
    doc = decode_pds(data, source)
    xml = doc["procDefData"]
    infos = doc["taskNodeInfos"] or []
    if not isinstance(xml, str) or not xml.strip():
        raise ProcessError("procDefData (the BPMN XML) is empty", source=source)
    if len(xml) > MAX_XML_CHARS:
        raise ProcessError(f"refused: procDefData is larger than {MAX_XML_CHARS} characters", source=source)
    if not isinstance(infos, list) or len(infos) > MAX_NODE_INFOS or not all(isinstance(i, dict) for i in infos):
        raise ProcessError(f"taskNodeInfos must be a list of at most {MAX_NODE_INFOS} objects", source=source)
    where = f"{source} (procDefData)"
    root = parse_xml(xml, where)
    graph = read_graph(root, where, "pds")
    by_id = {str(i.get("nodeId")): i for i in infos}
    problems = list(graph.problems)
    ids = {d.id for d in graph.drafts}
    for node_id, info in by_id.items():
        if node_id not in ids:
            problems.append(
                Problem(
                    "taskNodeInfos names a node the BPMN XML does not draw",
                    source=source,
                    element=node_id,
                    name=str(info.get("nodeName") or ""),
                )
            )

    def fields_of(d: Draft) -> dict:
        info = by_id.get(d.id)
        if info is None:
            raise ValueError("the task has no entry in taskNodeInfos, so no service binding")
        category = info.get("taskCategory")
        if category not in CATEGORIES:
            raise ValueError(f"taskCategory {category!r} is unknown (SSTN, SUTN or SDTN)")
        params = info.get("paramInfos") or []
        if not isinstance(params, list):
            raise ValueError("paramInfos is not a list")
        return {
            "type": CATEGORIES[category],
            "source_type": f"{d.tag} {category or 'null'}",
            "service_name": str(info.get("serviceName") or "").strip(),
            "routine_expression": str(info.get("routineExpression") or "").strip(),
            "timeout_minutes": _timeout(info.get("timeoutExpression")),
            "params": tuple(_param(p) for p in params if isinstance(p, dict)),
        }

    edges = mark_defaults(graph.drafts, graph.edges)
    nodes, warnings, more = build_nodes(graph.drafts, edges, where, fields_of)
    problems += more
    if problems:
        raise ProcessError(problems)
    try:
        return Process(
            key=str(doc["procDefKey"] or ""),
            name=str(doc["procDefName"] or ""),
            version=str(doc["procDefVersion"] or ""),
            root_entity=str(doc["rootEntity"] or "").strip(),
            nodes=tuple(nodes),
            edges=tuple(edges),
            diagram=Diagram(bpmn_xml=xml, positions=graph.positions),
            source_format="wecube-pds",
            source_file=source,
            warnings=tuple(warnings),
        )
    except ValidationError as e:
        raise ProcessError([Problem(m, source=source) for m in pydantic_messages(e)]) from None
