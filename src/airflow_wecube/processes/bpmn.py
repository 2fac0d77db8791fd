"""Read a BPMN 2.0 drawing (bpmn.io, Camunda Modeler) into a :class:`Process`.

A task is bound to WeCube's vocabulary through ``camunda:property`` entries of its
``extensionElements`` (the modeler's "Extensions > Properties" panel), names listed in
:data:`TASK_PROPERTIES`; the process itself carries ``rootEntity`` (and optionally ``version``,
``tags``, ``scene``). docs/processes.md documents them with an example.
"""

from __future__ import annotations

from pydantic import ValidationError

from airflow_wecube.processes.bpmn_graph import BPMN, CAMUNDA, Draft, positions, read_graph
from airflow_wecube.processes.errors import Problem, ProcessError, pydantic_messages
from airflow_wecube.processes.model import Diagram, Node, ParamBinding, Process, SubProcessRef
from airflow_wecube.processes.shape import degrees, flatten_embedded, gateway_type, serviceless
from airflow_wecube.processes.xmlsafe import parse_xml

TASK_PROPERTIES = (
    "serviceName",
    "routineExpression",
    "nodeType",
    "dynamicBind",
    "bindNodeId",
    "riskCheck",
    "timeout",
    "allowContinue",
    "subProcVersion",
)
PROCESS_PROPERTIES = ("rootEntity", "version", "tags", "scene")
#: ``param.<name>`` = a constant input; ``context.<name>`` = ``<nodeId>/<INPUT|OUTPUT>/<param>``
PARAM_PREFIX, CONTEXT_PREFIX = "param.", "context."
_TRUE, _FALSE = {"true", "y", "yes", "1"}, {"false", "n", "no", "0", ""}


def flag(value: str) -> bool:
    v = value.strip().lower()
    if v in _TRUE:
        return True
    if v in _FALSE:
        return False
    raise ValueError(f"expected true or false, got {value!r}")


def context_binding(name: str, value: str) -> ParamBinding:
    """``nodeId/OUTPUT/param`` (or ``nodeId/param``, an output) as a context binding of input ``name``."""
    parts = [p.strip() for p in value.split("/")]
    if len(parts) == 2:
        parts = [parts[0], "OUTPUT", parts[1]]
    if len(parts) != 3 or not all(parts) or parts[1].upper() not in ("INPUT", "OUTPUT"):
        raise ValueError(f"context binding {value!r} is not <nodeId>/<INPUT|OUTPUT>/<parameter>")
    return ParamBinding(
        param_name=name,
        bind_type="context",
        bind_node_id=parts[0],
        bind_param_type=parts[1].upper(),
        bind_param_name=parts[2],
    )


def _task_fields(d: Draft) -> dict:
    """Node fields from a task's properties; ValueError names the first bad one."""
    props, params, fields = d.props, [], {}
    for key, value in props.items():
        if key.startswith(PARAM_PREFIX) and key[len(PARAM_PREFIX) :]:
            params.append(ParamBinding(param_name=key[len(PARAM_PREFIX) :], bind_value=value))
        elif key.startswith(CONTEXT_PREFIX) and key[len(CONTEXT_PREFIX) :]:
            params.append(context_binding(key[len(CONTEXT_PREFIX) :], value))
        elif key not in TASK_PROPERTIES:
            raise ValueError(
                f"unknown property {key!r}; known: {', '.join(TASK_PROPERTIES)},"
                f" {PARAM_PREFIX}<input>, {CONTEXT_PREFIX}<input>"
            )
    fields["service_name"] = props.get("serviceName", "")
    fields["routine_expression"] = props.get("routineExpression", "")
    if props.get("dynamicBind", "") != "":
        if props["dynamicBind"] not in ("0", "1", "2"):
            raise ValueError(f"dynamicBind must be 0, 1 or 2, not {props['dynamicBind']!r}")
        fields["dynamic_bind"] = int(props["dynamicBind"])
    fields["bind_node_id"] = props.get("bindNodeId", "")
    fields["risk_check"] = flag(props.get("riskCheck", ""))
    fields["allow_continue"] = flag(props.get("allowContinue", ""))
    if props.get("timeout"):
        try:
            fields["timeout_minutes"] = float(props["timeout"])
        except ValueError:
            raise ValueError(f"timeout is minutes, not {props['timeout']!r}") from None
    fields["params"] = tuple(params)
    return fields


def node_type(d: Draft) -> str:
    """WeCube's node type of a task, call or event draft (gateways are typed by degree)."""
    if d.kind in ("start", "end", "abnormal"):
        return d.kind
    if d.kind == "timer":
        return "timeInterval" if d.timer == "duration" else "date"
    if d.kind == "call":
        return "subProc"
    wanted = d.props.get("nodeType", "")
    if wanted:
        if wanted not in ("automatic", "data", "human"):
            raise ValueError(f"nodeType must be automatic, data or human, not {wanted!r}")
        return wanted
    return "human" if d.tag in ("userTask", "manualTask") else "automatic"


def build_nodes(drafts: list[Draft], edges, source: str, fields_of) -> tuple[list[Node], list[str], list[Problem]]:
    """Nodes of the drafts; ``fields_of(draft)`` gives a task's binding fields (format-specific)."""
    n_in, n_out = degrees(edges)
    nodes, warnings, problems = [], [], []
    for d in drafts:
        try:
            fields = {"source_type": d.tag}
            if d.kind == "gateway":
                kind, problem = gateway_type(d, n_in.get(d.id, 0), n_out.get(d.id, 0), source)
                if problem:
                    problems.append(problem)
                    continue
                fields |= {"type": kind, "inclusive": d.gateway == "inclusive", "source_type": f"{d.tag}"}
            else:
                fields["type"] = node_type(d)
                if d.kind in ("task", "call"):
                    fields |= fields_of(d)
                if d.kind == "call":
                    fields["sub_process"] = SubProcessRef(
                        key=d.called, version=d.called_version or d.props.get("subProcVersion", "")
                    )
                if d.time_config:
                    fields["time_config"] = d.time_config
                    fields["allow_continue"] = flag(d.props.get("allowContinue", ""))
            node, warning = serviceless(Node(id=d.id, name=d.name, **fields))
            nodes.append(node)
            if warning:
                warnings.append(warning)
        except (ValueError, ValidationError) as e:
            problems.append(
                Problem(
                    "; ".join(pydantic_messages(e)) if isinstance(e, ValidationError) else str(e).strip(),
                    source=source,
                    line=d.line,
                    element=d.id,
                    name=d.name,
                    hint="docs/processes.md lists what each element accepts",
                )
            )
    return nodes, warnings, problems


def mark_defaults(drafts: list[Draft], edges) -> list:
    defaults = {d.default_flow for d in drafts if d.default_flow}
    return [e.model_copy(update={"default": True}) if e.id in defaults else e for e in edges]


def read_bpmn(data: bytes, source: str) -> Process:
    """A BPMN 2.0 drawing as a process; :class:`ProcessError` lists every refused element."""
    root = parse_xml(data, source)
    graph = read_graph(root, source, "bpmn")
    problems = list(graph.problems)
    if graph.drafts or not problems:
        problems += flatten_embedded(graph, source)
    edges = mark_defaults(graph.drafts, graph.edges)
    nodes, warnings, more = build_nodes(graph.drafts, edges, source, _task_fields)
    problems += more
    process = graph.process
    props: dict[str, str] = {}
    for ext in process.findall(f"{{{BPMN}}}extensionElements"):
        for group in ext:
            if group.tag != f"{{{CAMUNDA}}}properties":
                problems.append(
                    Problem(
                        f"extension {group.tag.rsplit('}', 1)[-1]} of the process is not run",
                        source=source,
                        line=getattr(group, "sourceline", None),
                        element=process.get("id", ""),
                        hint="only camunda:properties (rootEntity, version, tags, scene) are read",
                    )
                )
                continue
            for prop in group.findall(f"{{{CAMUNDA}}}property"):
                props[(prop.get("name") or "").strip()] = (prop.get("value") or "").strip()
    for key in props:
        if key not in PROCESS_PROPERTIES:
            problems.append(
                Problem(
                    f"unknown process property {key!r}",
                    source=source,
                    line=getattr(process, "sourceline", None),
                    element=process.get("id", ""),
                    hint=f"known: {', '.join(PROCESS_PROPERTIES)}",
                )
            )
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError:
        problems.append(Problem("the drawing is not UTF-8", source=source, hint="save it as UTF-8"))
    if problems:
        raise ProcessError(problems)
    version = props.get("version") or process.get(f"{{{CAMUNDA}}}versionTag") or "1"
    try:
        return Process(
            key=process.get("id", ""),
            name=process.get("name") or process.get("id", ""),
            version=version.strip(),
            root_entity=props.get("rootEntity", ""),
            tags=tuple(t.strip() for t in props.get("tags", "").split(",") if t.strip()),
            scene=props.get("scene", ""),
            nodes=tuple(nodes),
            edges=tuple(edges),
            diagram=Diagram(bpmn_xml=text, positions=positions(root)),
            source_format="bpmn",
            source_file=source,
            warnings=tuple(warnings),
        )
    except ValidationError as e:
        raise ProcessError(
            [Problem(m, source=source, element=process.get("id", "")) for m in pydantic_messages(e)]
        ) from None
