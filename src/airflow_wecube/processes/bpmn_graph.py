"""The flow graph of a BPMN 2.0 document, read over an allow-list.

Shared by the BPMN reader and the ``.pds`` reader (whose ``procDefData`` is BPMN). Every element
of the process is either understood, ignored because it only draws or documents (text
annotations, lanes, groups), or refused with its line, id, name and a hint: nothing is silently
dropped. Which WeCube node each element becomes is decided by the readers; this module finds
the elements, their flows, timers, conditions and Camunda properties.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from xml.etree.ElementTree import Element

from airflow_wecube.processes.conditions import ConditionError, parse_condition
from airflow_wecube.processes.errors import Problem
from airflow_wecube.processes.model import Edge, Position, TimeConfig

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI = "http://www.omg.org/spec/BPMN/20100524/DI"
DC = "http://www.omg.org/spec/DD/20100524/DC"
CAMUNDA = "http://camunda.org/schema/1.0/bpmn"

TASKS = ("task", "serviceTask", "userTask", "manualTask")
GATEWAYS = {"parallelGateway": "parallel", "exclusiveGateway": "exclusive", "inclusiveGateway": "inclusive"}
#: elements that only draw or document: kept in the diagram, no effect on the run
DRAWING = {"textAnnotation", "association", "group", "laneSet", "documentation", "category"}
#: refused elements and why (the rest of BPMN is refused with a generic hint)
REFUSED = {
    "eventBasedGateway": "event-based gateways wait for messages or signals, which nothing here sends",
    "complexGateway": "complex gateways have no Airflow counterpart; use exclusive, inclusive or parallel",
    "boundaryEvent": "boundary events are not run; set a 'timeout' property on the task instead",
    "scriptTask": "scripts are not run inside the scheduler; register the script as a plugin service",
    "businessRuleTask": "DMN decisions are not run; use an exclusive gateway with conditions",
    "sendTask": "messages are not sent; use a service task bound to a plugin service",
    "receiveTask": "messages are not received; use a user task or a plugin's asynchronous interface",
    "transaction": "transactions (compensation) are not run",
    "adHocSubProcess": "ad-hoc sub-processes have no fixed order to run",
    "intermediateThrowEvent": "throw events do nothing here; remove it or use a timer catch event",
    "dataObject": "data objects are not run; pass values through plugin parameters",
    "dataObjectReference": "data objects are not run; pass values through plugin parameters",
    "dataStoreReference": "data stores are not run",
}
_EVENT_HINTS = {
    "messageEventDefinition": "message events wait for messages nothing here sends",
    "signalEventDefinition": "signal events wait for signals nothing here sends",
    "compensateEventDefinition": "compensation is not run",
    "escalationEventDefinition": "escalation is not run",
    "conditionalEventDefinition": "conditional events are not run",
    "linkEventDefinition": "link events are not run; draw the flow",
    "terminateEventDefinition": "terminate ends are not run; use an error end event to fail the run",
    "cancelEventDefinition": "cancel events are not run",
}
_LOOPS = ("standardLoopCharacteristics", "multiInstanceLoopCharacteristics")
_IMPLEMENTATION = ("class", "expression", "delegateExpression", "type", "topic", "resultVariable")
#: Camunda attributes that change nothing here (engine hints, the called version); any other
#: (assignee, candidateGroups, formKey, dueDate...) is refused rather than ignored
_HARMLESS = frozenset(
    {"asyncBefore", "asyncAfter", "exclusive", "jobPriority", "calledElementVersion", "calledElementBinding"}
)
_DURATION = re.compile(
    r"^P(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)


def local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def ns(tag: str) -> str:
    return tag[1:].split("}", 1)[0] if tag.startswith("{") else ""


@dataclass
class Draft:
    """A flow element as found, before a reader decides its WeCube node type."""

    id: str
    name: str
    tag: str
    line: int | None
    kind: str  # start end abnormal task call gateway timer subprocess
    props: dict[str, str] = field(default_factory=dict)
    gateway: str = ""
    time_config: TimeConfig | None = None
    timer: str = ""  # duration | date
    called: str = ""
    called_version: str = ""
    default_flow: str = ""
    parent: str = ""  # the embedded sub-process holding it


@dataclass
class Graph:
    process: Element
    drafts: list[Draft]
    edges: list[Edge]
    problems: list[Problem]
    embedded: list[Draft]
    positions: dict[str, Position]


class _Reader:
    def __init__(self, source: str, mode: str):
        self.source, self.mode = source, mode
        self.problems: list[Problem] = []
        self.drafts: list[Draft] = []
        self.edges: list[Edge] = []
        self.embedded: list[Draft] = []

    def refuse(self, elem: Element, message: str, hint: str = "") -> None:
        self.problems.append(
            Problem(
                message,
                source=self.source,
                line=getattr(elem, "sourceline", None),
                element=elem.get("id") or local(elem.tag),
                name=elem.get("name") or "",
                hint=hint,
            )
        )

    def container(self, parent: Element, parent_id: str = "") -> None:
        for child in parent:
            tag = local(child.tag)
            if ns(child.tag) != BPMN:
                if tag != "extensionElements":
                    self.refuse(child, f"element {child.tag} is not BPMN", "remove it")
                continue
            if tag in DRAWING or tag in ("incoming", "outgoing", "extensionElements"):
                continue
            if tag == "sequenceFlow":
                self.flow(child)
            elif tag in REFUSED:
                self.refuse(child, f"{tag} is refused", REFUSED[tag])
            elif tag in ("startEvent", "endEvent", "intermediateCatchEvent"):
                self.event(child, tag, parent_id)
            elif tag in TASKS or tag in ("subProcess", "callActivity"):
                self.activity(child, tag, parent_id)
            elif tag in GATEWAYS:
                self.add(child, "gateway", parent_id, gateway=GATEWAYS[tag], default_flow=child.get("default", ""))
            else:
                self.refuse(child, f"BPMN element {tag} is not supported", "docs/processes.md lists what is")

    def add(self, elem: Element, kind: str, parent_id: str, **kw) -> Draft:
        d = Draft(
            id=elem.get("id", ""),
            name=(elem.get("name") or "").strip(),
            tag=local(elem.tag),
            line=getattr(elem, "sourceline", None),
            kind=kind,
            props=self.properties(elem),
            parent=parent_id,
            **kw,
        )
        if not d.id:
            self.refuse(elem, f"{d.tag} has no id", "every flow element needs an id")
        for key in elem.attrib:
            if key.startswith(f"{{{CAMUNDA}}}") and local(key) not in _HARMLESS:
                self.refuse(
                    elem,
                    f"camunda:{local(key)} is not run here",
                    "who approves and with which form is set in Airflow (docs/approvals.md); bind tasks with"
                    " camunda:property entries (docs/processes.md)",
                )
        self.drafts.append(d)
        return d

    def properties(self, elem: Element) -> dict[str, str]:
        """``camunda:property`` name -> value of the element's extensionElements; other extensions refused."""
        props: dict[str, str] = {}
        for ext in elem.findall(f"{{{BPMN}}}extensionElements"):
            for child in ext:
                if child.tag != f"{{{CAMUNDA}}}properties":
                    self.refuse(
                        elem,
                        f"extension {local(child.tag)} is not run",
                        "only camunda:properties (serviceName, routineExpression, ...) are read",
                    )
                    continue
                for prop in child:
                    if prop.tag == f"{{{CAMUNDA}}}property" and prop.get("name"):
                        props[prop.get("name").strip()] = (prop.get("value") or "").strip()
        return props

    def definitions(self, elem: Element) -> list[Element]:
        return [c for c in elem if local(c.tag).endswith("EventDefinition")]

    def event(self, elem: Element, tag: str, parent_id: str) -> None:
        defs = self.definitions(elem)
        for d in defs:
            if local(d.tag) in _EVENT_HINTS:
                self.refuse(elem, f"{tag} with {local(d.tag)} is refused", _EVENT_HINTS[local(d.tag)])
                return
        kinds = [local(d.tag) for d in defs]
        if tag == "startEvent":
            if kinds:
                self.refuse(elem, f"start event with {kinds[0]} is refused", "a run starts from the UI or the API")
                return
            self.add(elem, "start", parent_id)
        elif tag == "endEvent":
            if kinds and kinds != ["errorEventDefinition"]:
                self.refuse(elem, f"end event with {kinds[0]} is refused", "use a plain or an error end event")
                return
            self.add(elem, "abnormal" if kinds else "end", parent_id)
        elif kinds != ["timerEventDefinition"]:
            self.refuse(
                elem,
                "an intermediate catch event must be a single timer",
                "message, signal and conditional events wait for something nothing here sends",
            )
        else:
            self.timer(elem, defs[0], parent_id)

    def timer(self, elem: Element, definition: Element, parent_id: str) -> None:
        parts = {local(c.tag): (c.text or "").strip() for c in definition}
        if "timeCycle" in parts:
            self.refuse(elem, "cyclic timers are refused", "a process runs once; schedule the DAG for repeats")
        elif "timeDuration" in parts:
            seconds = iso_duration_seconds(parts["timeDuration"])
            if seconds is None:
                self.refuse(
                    elem,
                    f"timer duration {parts['timeDuration']!r} is not a fixed ISO-8601 duration",
                    "write PT20S, PT5M, P1DT2H (no months, years or ${...})",
                )
                return
            self.add(elem, "timer", parent_id, timer="duration", time_config=TimeConfig(duration=seconds, unit="sec"))
        elif "timeDate" in parts:
            try:
                datetime.fromisoformat(parts["timeDate"].replace("Z", "+00:00"))
            except ValueError:
                self.refuse(elem, f"timer date {parts['timeDate']!r} is not an ISO-8601 date", "2030-01-31T12:00:00Z")
                return
            self.add(elem, "timer", parent_id, timer="date", time_config=TimeConfig(date=parts["timeDate"]))
        else:
            self.refuse(elem, "a timer needs timeDuration or timeDate", "set the timer's duration in the modeler")

    def activity(self, elem: Element, tag: str, parent_id: str) -> None:
        for child in elem:
            t = local(child.tag)
            if t in _LOOPS:
                self.refuse(elem, f"loops ({t}) are refused", "fan out over entities with a routine expression")
                return
        for attr in _IMPLEMENTATION:
            if elem.get(f"{{{CAMUNDA}}}{attr}"):
                self.refuse(
                    elem,
                    f"camunda:{attr} is not run here",
                    "bind the task with camunda:property serviceName (docs/processes.md)",
                )
                return
        if elem.get("triggeredByEvent") == "true":
            self.refuse(elem, "event sub-processes are refused", "events that start them are not run")
            return
        inner = [
            c for c in elem if ns(c.tag) == BPMN and local(c.tag) not in ("incoming", "outgoing", "extensionElements")
        ]
        inner = [c for c in inner if local(c.tag) not in DRAWING]
        if tag == "subProcess" and inner and self.mode == "bpmn":
            d = self.add(elem, "subprocess", parent_id)
            self.embedded.append(d)
            self.container(elem, d.id)
            return
        if inner:
            self.refuse(elem, f"{tag} holds {local(inner[0].tag)}, which is not run", "remove it from the task")
            return
        if tag == "callActivity":
            self.add(
                elem,
                "call",
                parent_id,
                called=(elem.get("calledElement") or "").strip(),
                called_version=(elem.get(f"{{{CAMUNDA}}}calledElementVersion") or "").strip(),
            )
        else:
            self.add(elem, "task", parent_id)

    def flow(self, elem: Element) -> None:
        fid, src, tgt = elem.get("id", ""), elem.get("sourceRef", ""), elem.get("targetRef", "")
        if not (fid and src and tgt):
            self.refuse(elem, "a sequence flow needs id, sourceRef and targetRef")
            return
        condition = ""
        cond = elem.find(f"{{{BPMN}}}conditionExpression")
        if cond is not None:
            condition = (cond.text or "").strip()
            if cond.get("language") or cond.get(f"{{{CAMUNDA}}}resource"):
                self.refuse(elem, "scripted conditions are refused", "write ${name == 'value'} (docs/processes.md)")
                return
            try:
                parse_condition(condition)
            except ConditionError as e:
                self.refuse(
                    elem,
                    f"condition {condition!r} is outside the safe subset: {e}",
                    "names, 'text', numbers, == != < <= > >=, !, && and || inside ${...}",
                )
                return
        self.edges.append(
            Edge(id=fid, name=(elem.get("name") or "").strip(), source=src, target=tgt, condition=condition)
        )


def iso_duration_seconds(text: str) -> float | None:
    """Seconds of a fixed ISO-8601 duration (``PT20S``, ``P1DT2H``); None for anything else."""
    m = _DURATION.match(text.strip())
    if not m or text.strip() in ("P", "PT") or text.strip().endswith("T"):
        return None
    w, d, h, mi = (int(m[k] or 0) for k in "wdhm")
    return ((w * 7 + d) * 24 + h) * 3600 + mi * 60 + float(m["s"] or 0)


def positions(root: Element) -> dict[str, Position]:
    """Each drawn element's bounds from the BPMN DI (``BPMNShape``), by element id."""
    out: dict[str, Position] = {}
    for shape in root.iter(f"{{{BPMNDI}}}BPMNShape"):
        bounds = shape.find(f"{{{DC}}}Bounds")
        ref = shape.get("bpmnElement")
        if ref and bounds is not None:
            try:
                out[ref] = Position(
                    x=float(bounds.get("x", 0)),
                    y=float(bounds.get("y", 0)),
                    width=float(bounds.get("width", 0)),
                    height=float(bounds.get("height", 0)),
                )
            except ValueError:
                continue
    return out


def read_graph(root: Element, source: str, mode: str) -> Graph:
    """The one executable process of a ``definitions`` document as drafts and edges.

    ``mode`` is ``bpmn`` (a drawing: an embedded sub-process holds its own flow) or ``pds``
    (WeCube v2: a ``subProcess`` is a plugin task and holds nothing).
    """
    reader = _Reader(source, mode)
    if root.tag != f"{{{BPMN}}}definitions":
        reader.refuse(root, f"the root element is {local(root.tag)}, not BPMN definitions", "export BPMN 2.0 XML")
        return Graph(root, [], [], reader.problems, [], {})
    processes = root.findall(f"{{{BPMN}}}process")
    for child in root:
        tag = local(child.tag)
        if ns(child.tag) == BPMN and tag not in ("process", "collaboration", "error", "category", "extensionElements"):
            if tag not in ("message", "signal", "escalation", "itemDefinition", "dataStore", "documentation"):
                reader.refuse(child, f"{tag} is not supported at the top level")
    for collab in root.findall(f"{{{BPMN}}}collaboration"):
        if len(collab.findall(f"{{{BPMN}}}participant")) > 1 or collab.findall(f"{{{BPMN}}}messageFlow"):
            reader.refuse(collab, "several pools or message flows are refused", "draw one process in one pool")
    if len(processes) != 1:
        reader.refuse(root, f"the file holds {len(processes)} processes, not one", "export a single process")
        return Graph(root, [], [], reader.problems, [], {})
    reader.container(processes[0])
    return Graph(processes[0], reader.drafts, reader.edges, reader.problems, reader.embedded, positions(root))
