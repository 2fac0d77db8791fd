"""WeCube v2 .pds exports: the six real ones import with their 2020 manifests registered and keep
the export's structure; hostile files are refused with nothing written."""

from __future__ import annotations

import base64
import json
import re
from collections import Counter

import pytest

from airflow_wecube.processes import ProcessError, ProcessStore, read_bytes, read_process_file, validate
from airflow_wecube.processes.loader import MAX_FILE_BYTES
from airflow_wecube.processes.shape import SERVICELESS_NOTE

# file stem -> (nodes, flows, tasks, parallel gateways, timers, context params, constant params,
# the task whose serviceName is "" or None), from ../shared/fixtures/wecube-procdef/README.md
EXPECTED = {
    "business_zone_resource_init": (34, 37, 26, 4, 2, 9, 4, "SubProcess_0rmaie6"),
    "L3_UM_first_deployment": (27, 28, 21, 4, 0, 2, 0, "Task_0txweh0"),
    "HWCLOUD_datacenter_network_init": (25, 29, 19, 4, 0, 9, 0, "SubProcess_1bi1n47"),
    "L2_Zone_DC_VPC_network_init": (18, 19, 12, 4, 0, 5, 0, None),
    "default_alarm_handling": (6, 6, 2, 2, 0, 0, 0, None),
    "approval-process": (3, 2, 1, 0, 0, 0, 0, "Task_0wimm0s"),
}


def _decoded(path) -> dict:
    return json.loads(base64.b64decode(path.read_bytes()))


def _export(procdef_corpus, stem: str):
    [path] = [p for p in procdef_corpus.glob("*.pds") if stem in p.name]
    return path


def test_every_export_is_in_the_table(procdef_corpus):
    stems = {p.name for p in procdef_corpus.glob("*.pds")}
    assert len(stems) == len(EXPECTED)
    assert all(any(s in name for name in stems) for s in EXPECTED)


@pytest.mark.parametrize("stem", list(EXPECTED))
def test_export_imports_with_its_structure(stem, procdef_corpus, procdef_registry, tmp_path):
    path = _export(procdef_corpus, stem)
    nodes, flows, tasks, gateways, timers, contexts, constants, serviceless = EXPECTED[stem]
    [process] = read_process_file(path)
    process = validate(process, procdef_registry)
    doc = _decoded(path)
    xml = doc["procDefData"]

    assert (process.key, process.name, process.version) == (
        doc["procDefKey"],
        doc["procDefName"],
        doc["procDefVersion"],
    )
    assert process.root_entity == doc["rootEntity"]
    assert len(process.nodes) == nodes == len(doc["taskNodeInfos"])
    assert len(process.edges) == flows
    types = Counter(n.type for n in process.nodes)
    assert types["automatic"] + types["human"] == tasks
    assert types["fork"] + types["merge"] == gateways and types["fork"] == types["merge"]
    assert types["timeInterval"] == timers
    assert types["start"] == types["end"] == 1

    # flows: the same (id, source, target) as the XML, read here with a plain regex
    drawn = set(re.findall(r'<bpmn2:sequenceFlow id="([^"]+)" sourceRef="([^"]+)" targetRef="([^"]+)"', xml))
    assert {(e.id, e.source, e.target) for e in process.edges} == drawn

    # bindings: each node's service, routine and parameters as the export has them
    infos = {i["nodeId"]: i for i in doc["taskNodeInfos"]}
    for node in process.nodes:
        info = infos[node.id]
        if node.type in ("automatic", "human"):
            assert node.service_name == (info["serviceName"] or "")
            assert node.routine_expression == info["routineExpression"]
            assert node.timeout_minutes == (float(info["timeoutExpression"]) if info["timeoutExpression"] else None)
            assert [
                (b.param_name, b.bind_type, b.bind_value, b.bind_node_id, b.bind_param_name) for b in node.params
            ] == [
                (p["paramName"], p["bindType"], p["bindValue"], p["bindNodeId"], p["bindParamName"])
                for p in info["paramInfos"]
            ]
        if node.service_name:
            assert node.service_version, node.id  # resolved against the registered manifests
    params = [b for n in process.nodes for b in n.params]
    assert Counter(b.bind_type for b in params) == Counter({"context": contexts, "constant": constants}) - Counter()

    # the task without a service becomes a manual step, said so in a warning
    manual = [n for n in process.nodes if n.type == "human"]
    assert [n.id for n in manual] == ([serviceless] if serviceless else [])
    for n in manual:
        assert n.note == SERVICELESS_NOTE and not n.service_name
        assert any(n.id in w for w in process.warnings)

    # stored and read back unchanged
    store = ProcessStore(tmp_path / "wecube_processes")
    [stored] = store.save([process])
    assert stored == tmp_path / "wecube_processes" / process.key / f"{process.version}.json"
    assert store.get(process.key) == process
    assert process.diagram.bpmn_xml == xml and len(process.diagram.positions) == nodes


def test_timers_and_root_filters(procdef_corpus):
    [p] = read_process_file(_export(procdef_corpus, "business_zone_resource_init"))
    timers = [n for n in p.nodes if n.type == "timeInterval"]
    assert [t.time_config.seconds for t in timers] == [20.0, 20.0]
    assert p.root_entity == "wecmdb:business_zone{business_zone_type eq 'NODE'}"
    script = p.node("Task_1uyshp7")
    assert script.params[0].param_name == "scriptContent"
    assert script.params[0].bind_value == "sudo yum install -y java-1.8.0-openjdk"
    confirm = p.node("Task_18uc2hp")
    assert confirm.params[0].bind_node_id == "Task_07qe8vo" and confirm.params[0].bind_param_type == "OUTPUT"


def test_services_pinned_to_the_version_that_declares_them(procdef_corpus, procdef_registry):
    """No single saltstack version serves business_zone: each node keeps the one that declares its service."""
    [p] = read_process_file(_export(procdef_corpus, "business_zone_resource_init"))
    p = validate(p, procdef_registry)
    versions = {n.service_name: n.service_version for n in p.nodes if n.service_name.startswith("saltstack/")}
    assert versions["saltstack/host-file(monitor_agent)/copy-agent"] == "2020-04-09"
    assert versions["saltstack/mysql-user(db_monitor)/add"] == "2020-04-16"
    assert versions["saltstack/agent(host)/install"] == "2020-04-16"  # both declare it: the highest
    assert "package saltstack is called in versions 2020-04-09, 2020-04-16" in "\n".join(p.warnings)
    # the confirm after the manual step reads its guid: said at import
    assert any("SubProcess_028hyrr input guid reads output 'guid' of the manual step" in w for w in p.warnings)


def test_missing_services_are_listed_with_the_register_command(procdef_corpus, tmp_path):
    from airflow_wecube.registry import Registry

    [p] = read_process_file(_export(procdef_corpus, "default_alarm_handling"))
    with pytest.raises(ProcessError) as e:
        validate(p, Registry(tmp_path / "empty"))
    text = str(e.value)
    assert "notification/mail(alarm)/send is not registered" in text
    assert "service-mgmt/task(alarm)/create is not registered" in text
    assert "wecube plugins register <notification register.xml>" in text


def pds(doc) -> bytes:
    return base64.b64encode(json.dumps(doc).encode())


def _minimal(xml: str) -> dict:
    return {
        "procDefKey": "k1",
        "procDefName": "n",
        "procDefVersion": "1",
        "rootEntity": "wecmdb:host",
        "procDefData": xml,
        "taskNodeInfos": [],
    }


XXE = (
    '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    '<bpmn2:definitions xmlns:bpmn2="http://www.omg.org/spec/BPMN/20100524/MODEL">&x;</bpmn2:definitions>'
)
BOMB = (
    '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
    '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><d>&c;</d>'
)
DEEP = '<bpmn2:definitions xmlns:bpmn2="http://www.omg.org/spec/BPMN/20100524/MODEL">' + "<a>" * 200 + "</a>" * 200


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"%%% not base64 %%%", "not base64"),
        (base64.b64encode(b"[1, 2]"), "not a JSON object"),
        (base64.b64encode(b"[" * 100_000 + b"]" * 100_000), "nested deeper"),
        (base64.b64encode(b'{"a": ' * 40 + b"1" + b"}" * 40), "nested deeper"),
        (base64.b64encode(b"{}"), "lacks procDefKey"),
        (pds(_minimal(XXE)), "refused unsafe XML"),
        (pds(_minimal(BOMB)), "refused unsafe XML"),
        (pds(_minimal(DEEP)), "nested deeper than 64"),
        (pds(_minimal("<bpmn2:definitions")), "malformed XML"),
        (pds(_minimal("")), "procDefData (the BPMN XML) is empty"),
    ],
)
def test_hostile_pds_refused(data, message, tmp_path):
    path = tmp_path / "proc-x.pds"
    path.write_bytes(data)
    with pytest.raises(ProcessError, match=re.escape(message)):
        read_process_file(path)


def test_huge_file_refused_before_decoding(tmp_path):
    path = tmp_path / "huge.pds"
    path.write_bytes(b"A" * (MAX_FILE_BYTES + 4))
    with pytest.raises(ProcessError, match="larger than"):
        read_process_file(path)


def test_task_without_node_info_and_scripts_refused():
    xml = (
        '<bpmn2:definitions xmlns:bpmn2="http://www.omg.org/spec/BPMN/20100524/MODEL"><bpmn2:process id="k1">'
        '<bpmn2:startEvent id="S"/><bpmn2:subProcess id="T" name="t"/><bpmn2:scriptTask id="X" name="sh"/>'
        '<bpmn2:endEvent id="E"/><bpmn2:sequenceFlow id="f1" sourceRef="S" targetRef="T"/>'
        '<bpmn2:sequenceFlow id="f2" sourceRef="T" targetRef="E"/></bpmn2:process></bpmn2:definitions>'
    )
    with pytest.raises(ProcessError) as e:
        read_bytes(pds(_minimal(xml)), "proc-k1.pds")
    text = str(e.value)
    assert "<X 'sh'>: scriptTask is refused" in text
    assert "<T 't'>: the task has no entry in taskNodeInfos" in text
    assert "2 problems" in text
