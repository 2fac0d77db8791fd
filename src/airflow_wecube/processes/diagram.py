"""The drawing of a stored process, as BPMN 2.0 XML with its diagram (DI) for bpmn.io's viewer.

A BPMN or ``.pds`` import is drawn from its own XML (the drawing a person made). A WeCube v4 JSON
export has no XML: one is generated from the canvas positions of its ``selfAttrs`` (``x``/``y``,
read as the node's centre, spread out when boxes would overlap), or from an automatic left-to-right
layout when a node has none. Pure (no Airflow import); docs/processes.md, "The process view".
"""

from __future__ import annotations

import re
from xml.sax.saxutils import quoteattr

from airflow_wecube.processes.model import Node, Process

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
#: XML ids (xsd:ID, an NCName): what bpmn.io accepts as an element id
_NCNAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]")

#: node type -> (BPMN element, event definition inside it, width, height)
SHAPES: dict[str, tuple[str, str, int, int]] = {
    "start": ("startEvent", "", 36, 36),
    "end": ("endEvent", "", 36, 36),
    "abnormal": ("endEvent", "errorEventDefinition", 36, 36),
    "automatic": ("serviceTask", "", 100, 80),
    "data": ("task", "", 100, 80),
    "human": ("userTask", "", 100, 80),
    "fork": ("parallelGateway", "", 50, 50),
    "merge": ("parallelGateway", "", 50, 50),
    "decision": ("exclusiveGateway", "", 50, 50),
    "decisionMerge": ("exclusiveGateway", "", 50, 50),
    "timeInterval": ("intermediateCatchEvent", "timerEventDefinition", 36, 36),
    "date": ("intermediateCatchEvent", "timerEventDefinition", 36, 36),
    "subProc": ("callActivity", "", 100, 80),
}
GAP = 40  # the least space between two boxes, in pixels
LAYER_STEP, ROW_STEP, MARGIN = 170, 130, 80
MAX_SPREAD = 4.0  # canvas positions are spread at most this much to stop boxes overlapping


def element_ids(process: Process) -> dict[str, str]:
    """Node id -> the id of its element in :func:`bpmn_xml` (the same id for BPMN and ``.pds``)."""
    if drawn_by_source(process):
        return {n.id: n.id for n in process.nodes}
    return _generated_ids(process)[0]


def drawn_by_source(process: Process) -> bool:
    """Whether the import's own XML draws every node (BPMN and ``.pds`` files with their DI)."""
    d = process.diagram
    return bool(d.bpmn_xml) and all(n.id in d.positions for n in process.nodes)


def bpmn_xml(process: Process) -> str:
    """The BPMN 2.0 XML (with DI) that draws ``process``."""
    if drawn_by_source(process):
        return process.diagram.bpmn_xml
    return generate(process)


def _generated_ids(process: Process) -> tuple[dict[str, str], dict[str, str], str]:
    """XML-safe, distinct ids for nodes, flows and the process element (one id space)."""
    taken: set[str] = set()

    def safe(raw: str, prefix: str) -> str:
        base = raw if _NCNAME.fullmatch(raw) else prefix + _UNSAFE.sub("_", raw)
        candidate, n = base, 1
        while candidate in taken:
            n += 1
            candidate = f"{base}_{n}"
        taken.update((candidate, f"{candidate}_di", f"{candidate}_def"))  # the shape ids made from it
        return candidate

    nodes = {n.id: safe(n.id, "n_") for n in process.nodes}
    edges = {e.id: safe(e.id, "f_") for e in process.edges}
    return nodes, edges, safe(f"Process_{process.key}", "p_")


def _size(node: Node) -> tuple[int, int]:
    _, _, w, h = SHAPES[node.type]
    return w, h


def auto_layout(process: Process) -> dict[str, tuple[float, float]]:
    """Node id -> centre: left to right by longest path from the start, rows ordered by the mean
    row of each node's predecessors (fewer crossings), each column centred on the tallest one."""
    ids = [n.id for n in process.nodes]
    preds: dict[str, list[str]] = {i: [] for i in ids}
    succs: dict[str, list[str]] = {i: [] for i in ids}
    for e in process.edges:
        if e.source in preds and e.target in preds:
            succs[e.source].append(e.target)
            preds[e.target].append(e.source)
    # Kahn's order; a node left out (a cycle: validation refuses them) goes after the others
    indegree = {i: len(preds[i]) for i in ids}
    order = [i for i in ids if indegree[i] == 0]
    for i in order:
        for t in succs[i]:
            indegree[t] -= 1
            if indegree[t] == 0:
                order.append(t)
    order += [i for i in ids if i not in set(order)]
    layer: dict[str, int] = {}
    for i in order:
        layer[i] = max((layer[p] + 1 for p in preds[i] if p in layer), default=0)
    columns: dict[int, list[str]] = {}
    for i in order:
        columns.setdefault(layer[i], []).append(i)
    row: dict[str, float] = {}
    for c in sorted(columns):
        members = columns[c]
        members.sort(
            key=lambda i: sum(row[p] for p in preds[i] if p in row) / max(1, len([p for p in preds[i] if p in row]))
        )
        for k, i in enumerate(members):
            row[i] = k
    tallest = max((len(m) for m in columns.values()), default=1)
    out = {}
    for c, members in columns.items():
        offset = (tallest - len(members)) / 2
        for k, i in enumerate(members):
            out[i] = (MARGIN + c * LAYER_STEP, MARGIN + (k + offset) * ROW_STEP)
    return out


def canvas_layout(process: Process) -> dict[str, tuple[float, float]] | None:
    """Node id -> centre from the v4 canvas positions, spread apart until no two boxes overlap;
    ``None`` when a node has no position."""
    pos = process.diagram.positions
    if not process.nodes or any(n.id not in pos for n in process.nodes):
        return None
    centres = [(pos[n.id].x, pos[n.id].y, *_size(n)) for n in process.nodes]
    scale = 1.0
    if len(centres) <= 600:  # quadratic; a bigger process is simply spread by the maximum
        for a in range(len(centres)):
            xa, ya, wa, ha = centres[a]
            for b in range(a + 1, len(centres)):
                xb, yb, wb, hb = centres[b]
                dx, dy = abs(xa - xb), abs(ya - yb)
                need_x, need_y = (wa + wb) / 2 + GAP, (ha + hb) / 2 + GAP / 2
                if dx * scale >= need_x or dy * scale >= need_y:
                    continue
                fx = need_x / dx if dx else float("inf")
                fy = need_y / dy if dy else float("inf")
                scale = max(scale, min(fx, fy, MAX_SPREAD))
    else:
        scale = MAX_SPREAD
    min_x = min(x - w / 2 / scale for x, _, w, _ in centres)
    min_y = min(y - h / 2 / scale for _, y, _, h in centres)
    return {
        n.id: ((pos[n.id].x - min_x) * scale + MARGIN / 2, (pos[n.id].y - min_y) * scale + MARGIN / 2)
        for n in process.nodes
    }


def _waypoints(a: tuple[float, float, int, int], b: tuple[float, float, int, int]) -> list[tuple[float, float]]:
    """From the right of ``a`` to the left of ``b``, with right-angled bends when they are not level."""
    (ax, ay, aw, _), (bx, by, bw, _) = a, b
    start, end = (ax + aw / 2, ay), (bx - bw / 2, by)
    if abs(ay - by) < 1 or end[0] <= start[0]:
        return [start, end]
    mid = (start[0] + end[0]) / 2
    return [start, (mid, ay), (mid, by), end]


def _n(v: float) -> str:
    return str(int(round(v)))


def generate(process: Process) -> str:
    """BPMN XML with DI for a process that has no drawing of its own (a WeCube v4 export)."""
    node_ids, edge_ids, process_id = _generated_ids(process)
    centres = canvas_layout(process) or auto_layout(process)
    boxes = {n.id: (*centres[n.id], *_size(n)) for n in process.nodes}
    incoming: dict[str, list[str]] = {n.id: [] for n in process.nodes}
    outgoing: dict[str, list[str]] = {n.id: [] for n in process.nodes}
    edges = [e for e in process.edges if e.source in boxes and e.target in boxes]
    for e in edges:
        outgoing[e.source].append(edge_ids[e.id])
        incoming[e.target].append(edge_ids[e.id])

    model, shapes = [], []
    for n in process.nodes:
        tag, definition, w, h = SHAPES[n.type]
        el = node_ids[n.id]
        attrs = f"id={quoteattr(el)} name={quoteattr(n.name or n.id)}"
        if tag == "callActivity" and n.sub_process and n.sub_process.key:
            attrs += f" calledElement={quoteattr(n.sub_process.key)}"
        inner = [f"<bpmn:incoming>{f}</bpmn:incoming>" for f in incoming[n.id]]
        inner += [f"<bpmn:outgoing>{f}</bpmn:outgoing>" for f in outgoing[n.id]]
        if definition:
            inner.append(f'<bpmn:{definition} id="{el}_def" />')
        model.append(f"    <bpmn:{tag} {attrs}>{''.join(inner)}</bpmn:{tag}>")
        x, y, _, _ = boxes[n.id]
        shapes.append(
            f'      <bpmndi:BPMNShape id="{el}_di" bpmnElement="{el}"'
            + (' isMarkerVisible="true"' if tag == "exclusiveGateway" else "")
            + f'><dc:Bounds x="{_n(x - w / 2)}" y="{_n(y - h / 2)}" width="{w}" height="{h}" /></bpmndi:BPMNShape>'
        )
    for e in edges:
        fl = edge_ids[e.id]
        attrs = (
            f"id={quoteattr(fl)} sourceRef={quoteattr(node_ids[e.source])} targetRef={quoteattr(node_ids[e.target])}"
        )
        if e.name:
            attrs += f" name={quoteattr(e.name)}"
        model.append(f"    <bpmn:sequenceFlow {attrs} />")
        points = "".join(
            f'<di:waypoint x="{_n(x)}" y="{_n(y)}" />' for x, y in _waypoints(boxes[e.source], boxes[e.target])
        )
        shapes.append(f'      <bpmndi:BPMNEdge id="{fl}_di" bpmnElement="{fl}">{points}</bpmndi:BPMNEdge>')
    return "\n".join(
        [
            '<?xml version="1.0" encoding="UTF-8"?>',
            f'<bpmn:definitions xmlns:bpmn="{BPMN_NS}" xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI"'
            ' xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" xmlns:di="http://www.omg.org/spec/DD/20100524/DI"'
            ' id="Definitions_wecube" targetNamespace="http://bpmn.io/schema/bpmn">',
            f"  <bpmn:process id={quoteattr(process_id)} name={quoteattr(process.name or process.key)}"
            ' isExecutable="true">',
            *model,
            "  </bpmn:process>",
            '  <bpmndi:BPMNDiagram id="Diagram_wecube">',
            f'    <bpmndi:BPMNPlane id="Plane_wecube" bpmnElement="{process_id}">',
            *shapes,
            "    </bpmndi:BPMNPlane>",
            "  </bpmndi:BPMNDiagram>",
            "</bpmn:definitions>",
            "",
        ]
    )
