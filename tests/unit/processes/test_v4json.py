"""WeCube v4 JSON exports (our own files: no public v4 export exists)."""

from __future__ import annotations

import json

import pytest

from airflow_wecube.processes import ProcessError, read_bytes, read_process_file, validate
from tests.fixtures.paths import PROCESS_DATA


def export() -> list:
    return json.loads((PROCESS_DATA / "v4_app_release.json").read_text())


def read(doc) -> list:
    return read_bytes(json.dumps(doc).encode(), "export.json")


def test_export_with_two_processes(sandbox_registry):
    main, sub = (validate(p, sandbox_registry) for p in read_process_file(PROCESS_DATA / "v4_app_release.json"))
    assert (main.key, main.version, main.name, main.root_entity) == (
        "app_release",
        "v1",
        "应用发布 app release",
        "cmdb:app",
    )
    assert main.tags == ("demo", "release") and main.scene == "deploy" and main.source_format == "wecube-v4"
    assert sub.key == "host_check" and len(sub.nodes) == 3
    assert [n.type for n in main.nodes] == [
        "start",
        "fork",
        "automatic",
        "timeInterval",
        "merge",
        "automatic",
        "human",
        "decision",
        "automatic",
        "abnormal",
        "data",
        "decisionMerge",
        "subProc",
        "date",
        "end",
    ]
    hosts = main.node("n_hosts")
    assert hosts.risk_check and hosts.service_version == "1.0.0"
    assert [
        (b.param_name, b.bind_type, b.bind_node_id, b.bind_param_type, b.bind_param_name) for b in hosts.params
    ] == [
        ("image", "constant", "", "INPUT", ""),
        ("vpc_id", "context", "n_vpc", "OUTPUT", "vpc_id"),
        ("run", "context", "n_start", "INPUT", "procInstId"),
    ]
    assert hosts.params[0].bind_value == "debian-12" and hosts.params[0].required
    wait = main.node("n_wait")
    assert wait.time_config.seconds == 30 and wait.allow_continue
    assert main.node("n_at").time_config.date == "2030-01-01T00:00:00Z"
    assert main.node("n_vpc").timeout_minutes == 10
    assert (main.node("n_deploy").dynamic_bind, main.node("n_deploy").bind_node_id) == (1, "n_hosts")
    check = main.node("n_check").sub_process
    assert (check.name, check.version) == ("host check", "v1")
    assert {e.name for e in main.edges if e.source == "n_decide"} == {"approve", "reject", "skip"}
    assert main.diagram.positions["n_vpc"].x == 220 and not main.diagram.bpmn_xml


def test_single_object_and_time_units():
    doc = export()[1]
    doc["taskNodeInfos"]["nodes"][1]["customAttrs"]["timeout"] = "5"
    [p] = read(doc)
    assert p.node("s_echo").timeout_minutes == 5


def test_unknown_node_type_refused_with_everything_else():
    doc = export()
    doc[0]["taskNodeInfos"]["nodes"][2]["customAttrs"]["nodeType"] = "loop"
    doc[0]["taskNodeInfos"]["nodes"][3]["customAttrs"]["timeConfig"] = "{not json"
    doc[1]["procDef"]["key"] = "../escape"
    with pytest.raises(ProcessError) as e:
        read(doc)
    text = str(e.value)
    assert "3 problems" in text
    assert "<n_vpc 'create the VPC'>: nodeType 'loop' is unknown" in text
    assert "<n_wait 'wait 30 s'>: timeConfig is not valid JSON" in text
    assert "process key '../escape' starts with a dot" in text


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"[]", "holds no process"),
        (b'[{"x": 1}]', "has no procDef object"),
        (b'[{"procDef": {}, "taskNodeInfos": {"nodes": {}}}]', "must hold lists 'nodes' and 'edges'"),
        (b"[" * 50 + b"]" * 50, "nested deeper than 32"),
        (b"[" * 100_000 + b"]" * 100_000, "nested deeper than 32"),
        (b"{not json", "malformed JSON"),
    ],
)
def test_malformed_exports_refused(data, message):
    with pytest.raises(ProcessError, match=message):
        read_bytes(data, "export.json")


def test_task_without_service_becomes_a_manual_step():
    doc = export()[1]
    doc["taskNodeInfos"]["nodes"][1]["customAttrs"]["serviceName"] = ""
    [p] = read(doc)
    node = p.node("s_echo")
    assert node.type == "human" and node.source_type == "automatic" and "Required Actions" in node.note
    assert p.warnings and "s_echo" in p.warnings[0]
    validate(p, None)  # a manual step needs no service and no registry entry
