"""Validation: every problem of a process in one message."""

from __future__ import annotations

import json

import pytest

from airflow_wecube.processes import ProcessError, read_bytes, validate
from airflow_wecube.processes.model import Edge, Node, Process
from tests.fixtures.paths import PROCESS_DATA


def base() -> Process:
    [main, _] = read_bytes((PROCESS_DATA / "v4_app_release.json").read_bytes(), "export.json")
    return main


def edit(process: Process, nodes=None, edges=None, **fields) -> Process:
    node_updates = nodes or {}
    new_nodes = tuple(n.model_copy(update=node_updates.get(n.id, {})) for n in process.nodes)
    return process.model_copy(
        update={"nodes": new_nodes, "edges": tuple(edges) if edges is not None else process.edges, **fields}
    )


def problems(process: Process, registry=None, **kw) -> str:
    with pytest.raises(ProcessError) as e:
        validate(process, registry, **kw)
    return str(e.value)


def test_the_base_process_is_valid():
    assert validate(base(), None).key == "app_release"


def test_many_problems_in_one_message():
    p = base()
    text = problems(
        edit(
            p,
            nodes={
                "n_vpc": {"routine_expression": ""},
                "n_deploy": {"bind_node_id": "n_check"},
                "n_check": {"sub_process": None},
            },
            root_entity="",
        )
    )
    assert "the process has no root entity" in text
    assert "<n_vpc 'create the VPC'>: automatic node has no routine expression" in text
    assert "<n_deploy 'deploy'>: dynamicBind 1: node n_check does not run before" in text
    assert "<n_check 'check each host'>: sub-process node names no process to run" in text
    assert text.startswith("4 problems")


def test_context_bindings_must_point_before():
    p = base()
    hosts = p.node("n_hosts")
    later = hosts.params[1].model_copy(update={"bind_node_id": "n_deploy"})
    system = hosts.params[2].model_copy(update={"bind_param_name": "password"})
    text = problems(edit(p, nodes={"n_hosts": {"params": (hosts.params[0], later, system)}}))
    assert "input vpc_id is bound to n_deploy, which does not run before this node" in text
    assert "the start node offers procInstId" in text


def test_cycle_named():
    p = base()
    edges = [*p.edges, Edge(id="back", source="n_approve", target="n_hosts")]
    text = problems(edit(p, edges=edges))
    assert "the flow loops: n_hosts 'create hosts' -> n_approve 'approve the release' -> n_hosts" in text


def test_decision_links_named_and_distinct():
    p = base()
    edges = [
        e.model_copy(update={"name": "approve" if e.id == "e11" else ("" if e.id == "e10" else e.name)})
        for e in p.edges
    ]
    text = problems(edit(p, edges=edges))
    assert "flow e10 leaving the decision has no name" in text
    assert "flows e9 and e11 leaving the decision are both named 'approve'" in text


def test_start_end_and_reachability():
    p = base()
    nodes = [
        *p.nodes,
        Node(id="n_island", name="island", type="automatic", service_name="x/y/z", routine_expression="a:b"),
    ]
    edges = [e for e in p.edges if e.id != "e16"]  # n_at no longer reaches the end
    text = problems(p.model_copy(update={"nodes": tuple(nodes), "edges": tuple(edges)}))
    assert "<n_island 'island'>: node is not reachable from the start" in text
    assert "<n_at 'wait until'>: date node has 0 outgoing flows" in text
    assert "no end node is reachable from the start" in text
    two = p.model_copy(update={"nodes": (*p.nodes, Node(id="s2", type="start"))})
    assert "exactly one start node, it has 2" in problems(two)


def test_unbalanced_fork_and_implicit_split():
    p = base()
    # the fork's timer branch skips the merge and goes straight on: no single merge joins them
    edges = [e.model_copy(update={"target": "n_hosts"}) if e.id == "e5" else e for e in p.edges]
    text = problems(edit(p, edges=edges))
    assert "automatic node has 2 incoming flows (hint: join flows with a merge gateway)" in text


def test_fork_joined_by_decision_merge_refused():
    p = base()
    nodes = {"n_merge": {"type": "decisionMerge"}}
    text = problems(edit(p, nodes=nodes))
    assert "the fork's branches do not meet at one merge (they meet at n_merge (decisionMerge))" in text


def test_routine_check_hook():
    seen = []

    def check(expression, node):
        seen.append(node.id)
        return "unknown entity 'network'" if "network" in expression else None

    text = problems(base(), routine_check=check)
    assert "<n_vpc 'create the VPC'>: routine expression: unknown entity 'network'" in text
    assert {"n_vpc", "n_hosts", "n_approve", "n_note", "n_check"} <= set(seen)


def test_registry_resolution(sandbox_registry):
    p = validate(base(), sandbox_registry)
    assert {n.service_name: n.service_version for n in p.nodes if n.service_name}["deploy/app/deploy"] == "1.0.0"
    missing = edit(
        base(), nodes={"n_vpc": {"service_name": "network/vpc/explode"}, "n_note": {"service_name": "nopkg/x/y"}}
    )
    text = problems(missing, sandbox_registry)
    assert "service network/vpc/explode is not registered: registered versions 1.0.0 lack it" in text
    assert "service nopkg/x/y is not registered: package nopkg is not registered" in text
    assert "wecube plugins register <nopkg register.xml>" in text


def test_default_flows_and_conditions_count_as_links():
    doc = json.loads((PROCESS_DATA / "v4_app_release.json").read_text())
    p = read_bytes(json.dumps(doc).encode(), "x.json")[0]
    edges = [e.model_copy(update={"name": "", "condition": "${a == 1}"}) if e.id == "e9" else e for e in p.edges]
    validate(edit(p, edges=edges), None)
