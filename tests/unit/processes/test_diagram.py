"""The drawing of every import: BPMN and .pds from their own XML, WeCube v4 generated from its canvas
positions or an automatic layout."""

from __future__ import annotations

import defusedxml.ElementTree as ET
import pytest

from airflow_wecube.processes import read_process_file
from airflow_wecube.processes.diagram import bpmn_xml, drawn_by_source, element_ids
from airflow_wecube.processes.model import Diagram, Edge, Node, Process
from tests.fixtures.paths import PROCESS_DATA

NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
    "dc": "http://www.omg.org/spec/DD/20100524/DC",
    "di": "http://www.omg.org/spec/DD/20100524/DI",
}
EVIL = "<script>alert('x')</script> & \"q\""


def v4() -> Process:
    return read_process_file(PROCESS_DATA / "v4_app_release.json")[0]


def shapes(xml: str) -> dict[str, tuple[float, float, float, float]]:
    root = ET.fromstring(xml.encode())
    out = {}
    for shape in root.iterfind(".//bpmndi:BPMNShape", NS):
        b = shape.find("dc:Bounds", NS)
        out[shape.get("bpmnElement")] = tuple(float(b.get(k)) for k in ("x", "y", "width", "height"))
    return out


def overlaps(boxes: dict) -> list:
    items = list(boxes.items())
    bad = []
    for i, (a, (ax, ay, aw, ah)) in enumerate(items):
        for b, (bx, by, bw, bh) in items[i + 1 :]:
            if ax < bx + bw and bx < ax + aw and ay < by + bh and by < ay + ah:
                bad.append((a, b))
    return bad


def test_v4_is_drawn_from_its_canvas_positions_without_overlap():
    p = v4()
    assert not drawn_by_source(p)
    xml = bpmn_xml(p)
    root = ET.fromstring(xml.encode())
    ids = element_ids(p)
    assert ids == {n.id: n.id for n in p.nodes}  # v4 ids are valid XML ids here: kept
    boxes = shapes(xml)
    assert set(boxes) == set(ids.values())
    assert overlaps(boxes) == []
    # the canvas order is kept: start left of the fork, the fork left of the end, vpc above wait
    x = {k: v[0] + v[2] / 2 for k, v in boxes.items()}
    y = {k: v[1] + v[3] / 2 for k, v in boxes.items()}
    assert x["n_start"] < x["n_fork"] < x["n_hosts"] < x["n_end"]
    assert y["n_vpc"] < y["n_merge"] < y["n_wait"]
    tags = {el.get("id"): el.tag.split("}")[1] for el in root.find("bpmn:process", NS)}
    assert tags["n_start"] == "startEvent" and tags["n_approve"] == "userTask" and tags["n_fork"] == "parallelGateway"
    assert tags["n_decide"] == "exclusiveGateway" and tags["n_check"] == "callActivity"
    assert root.find(".//bpmn:endEvent[@id='n_abort']/bpmn:errorEventDefinition", NS) is not None
    assert root.find(".//bpmn:intermediateCatchEvent[@id='n_wait']/bpmn:timerEventDefinition", NS) is not None
    flows = root.findall(".//bpmn:sequenceFlow", NS)
    assert len(flows) == len(p.edges)
    assert len(root.findall(".//bpmndi:BPMNEdge", NS)) == len(p.edges)
    for edge in root.iterfind(".//bpmndi:BPMNEdge", NS):
        assert len(edge.findall("di:waypoint", NS)) >= 2


def test_v4_without_positions_is_laid_out_left_to_right():
    p = v4()
    p = p.model_copy(update={"diagram": Diagram(positions={k: v for k, v in list(p.diagram.positions.items())[:3]})})
    boxes = shapes(bpmn_xml(p))
    assert set(boxes) == {n.id for n in p.nodes} and overlaps(boxes) == []
    x = {k: v[0] + v[2] / 2 for k, v in boxes.items()}
    for e in p.edges:  # every flow goes right
        assert x[e.source] < x[e.target], e


def test_names_and_odd_ids_are_escaped_and_made_valid_xml_ids():
    nodes = (
        Node(id="1 start", name=EVIL, type="start"),
        Node(id="1_start", name="twin", type="automatic"),
        Node(id="x", name="end", type="end"),
    )
    edges = (
        Edge(id="a b", source="1 start", target="1_start", name=EVIL),
        Edge(id="x_di", source="1_start", target="x"),
    )
    p = Process(key="odd", name=EVIL, version="1", nodes=nodes, edges=edges, source_format="wecube-v4")
    xml = bpmn_xml(p)
    root = ET.fromstring(xml.encode())  # well-formed despite the names
    ids = element_ids(p)
    assert ids["1 start"] != ids["1_start"] and all(v[0].isalpha() or v[0] == "_" for v in ids.values())
    start = root.find(f".//bpmn:startEvent[@id='{ids['1 start']}']", NS)
    assert start.get("name") == EVIL  # the name is data, as written
    assert root.find("bpmn:process", NS).get("name") == EVIL
    all_ids = [el.get("id") for el in root.iter() if el.get("id")]
    assert len(all_ids) == len(set(all_ids))


def test_bpmn_import_keeps_its_own_drawing():
    [p] = read_process_file(PROCESS_DATA / "view_review.bpmn")
    assert drawn_by_source(p)
    assert bpmn_xml(p) == p.diagram.bpmn_xml
    assert element_ids(p) == {n.id: n.id for n in p.nodes}
    assert {n.id for n in p.nodes} <= set(shapes(bpmn_xml(p)))


def test_bpmn_drawn_in_part_is_laid_out_whole():
    """release_review.bpmn draws three of its nodes: the viewer would show only those."""
    [p] = read_process_file(PROCESS_DATA / "release_review.bpmn")
    assert not drawn_by_source(p)
    boxes = shapes(bpmn_xml(p))
    assert set(boxes) == {n.id for n in p.nodes} and overlaps(boxes) == []
    assert element_ids(p) == {n.id: n.id for n in p.nodes}


def test_pds_exports_keep_their_own_drawing(procdef_corpus):
    files = sorted(procdef_corpus.glob("*.pds"))
    assert files
    for f in files:
        for p in read_process_file(f):
            assert drawn_by_source(p), f.name
            assert {n.id for n in p.nodes} <= set(shapes(bpmn_xml(p))), f.name


@pytest.mark.parametrize("count", [100, 700])
def test_big_process_draws_quickly_without_overlap(count):
    import time

    nodes = [Node(id="s", type="start")]
    nodes += [Node(id=f"t{i}", name=f"task {i}", type="automatic") for i in range(count)]
    nodes.append(Node(id="e", type="end"))
    edges = [Edge(id=f"f{i}", source=a.id, target=b.id) for i, (a, b) in enumerate(zip(nodes, nodes[1:], strict=False))]
    p = Process(key="big", version="1", nodes=tuple(nodes), edges=tuple(edges), source_format="wecube-v4")
    t = time.perf_counter()
    boxes = shapes(bpmn_xml(p))
    assert time.perf_counter() - t < 1.0
    assert len(boxes) == count + 2
    if count <= 100:
        assert overlaps(boxes) == []
