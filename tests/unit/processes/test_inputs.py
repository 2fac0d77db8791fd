"""Constant and context bindings per entity, and the ``.NONE`` routine suffix (pure)."""

from __future__ import annotations

import pytest

from airflow_wecube.processes.inputs import InputError, node_inputs, system_values
from airflow_wecube.processes.model import Edge, Node, ParamBinding, Process
from airflow_wecube.processes.routines import parse_check, routine, routine_text


def _process(*params: ParamBinding) -> Process:
    nodes = (
        Node(id="s", type="start"),
        Node(id="a", type="automatic", service_name="x/y/z", routine_expression="cmdb:app~(app)cmdb:host"),
        Node(id="b", type="automatic", service_name="x/y/w", routine_expression="cmdb:app~(app)cmdb:host",
             params=params),
        Node(id="e", type="end"),
    )  # fmt: skip
    edges = tuple(Edge(id=f"e{i}", source=a, target=b) for i, (a, b) in enumerate(zip("sab", "abe", strict=True)))
    return Process(key="k", name="名", version="v1", root_entity="cmdb:app", nodes=nodes, edges=edges,
                   source_format="wecube-v4")  # fmt: skip


def test_constants_system_values_and_another_nodes_record_for_the_same_path():
    p = _process(
        ParamBinding(param_name="image", bind_value="debian-12"),
        ParamBinding(param_name="run", bind_type="context", bind_node_id="s", bind_param_name="procInstId"),
        ParamBinding(param_name="root", bind_type="context", bind_node_id="s", bind_param_name="rootEntityName"),
        ParamBinding(param_name="vpc", bind_type="context", bind_node_id="a", bind_param_type="OUTPUT",
                     bind_param_name="vpc_id", required=True),
        ParamBinding(param_name="app", bind_type="context", bind_node_id="a", bind_param_type="INPUT",
                     bind_param_name="app_name"),
    )  # fmt: skip
    system = system_values(p, {"id": "app1", "displayName": "shop"}, dag_id="d", run_id="r", start="t", executor=None)
    records = {
        "a": [
            {"callbackParameter": "h1", "inputs": {"app_name": "shop"}, "output": {"vpc_id": "v1"}},
            {"callbackParameter": "h2", "inputs": {"app_name": "shop"}, "output": {"vpc_id": "v2"}},
        ]
    }
    entities = [{"id": "h2", "path": "app1::h2"}, {"id": "h1", "path": "app1::h1"}]
    out = node_inputs(p, p.node("b"), entities, system, records)
    assert out == [
        {"callbackParameter": "h2", "image": "debian-12", "run": "d/r", "root": "shop", "vpc": "v2", "app": "shop"},
        {"callbackParameter": "h1", "image": "debian-12", "run": "d/r", "root": "shop", "vpc": "v1", "app": "shop"},
    ]
    assert system["procExecutor"] == "airflow" and system["procDefName"] == "名"


def test_a_required_binding_without_value_and_a_masked_one_are_refused_together():
    p = _process(
        ParamBinding(param_name="vpc", bind_type="context", bind_node_id="a", bind_param_type="OUTPUT",
                     bind_param_name="vpc_id", required=True),
        ParamBinding(param_name="pw", bind_type="context", bind_node_id="a", bind_param_name="password"),
    )  # fmt: skip
    records = {"a": [{"callbackParameter": "h1", "inputs": {"password": "***"}, "output": {}}]}
    with pytest.raises(InputError) as e:
        node_inputs(p, p.node("b"), [{"id": "h1", "path": "app1::h1"}], {}, records)
    assert "required vpc has no value" in str(e.value) and "sensitive password" in str(e.value)


def test_none_suffix_binds_the_entities_themselves():
    assert routine_text("wecmdb:data_center.NONE") == "wecmdb:data_center"
    assert str(routine("cmdb:app~(app)cmdb:host.ip")) == "cmdb:app~(app)cmdb:host"
    check = parse_check("cmdb:app{name eq 'x'}")
    assert check("cmdb:app~(app)cmdb:host.NONE", None) is None
    assert "not at the root entity" in check("cmdb:host", None)
    assert check("cmdb:app~~", None)
