"""The preview over the sandbox's entity API: dynamicBind 0, 1 and 2, exclusions (also through a
node that reuses another's entities), a root that does not exist, and ``wecube processes preview``."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_wecube.datamodel.client import EntityApi
from airflow_wecube.datamodel.evaluate import Evaluator
from airflow_wecube.processes import ProcessStore
from airflow_wecube.processes.model import Edge, Node, Process
from airflow_wecube.processes.preview import BindError, bindings, preview

HOSTS = "cmdb:subnet~(subnet)cmdb:host"


@pytest.fixture
def world(sandbox):
    api = EntityApi.at(sandbox.url, sandbox.token)
    tag = secrets.token_hex(3)
    [subnet] = api.create("cmdb", "subnet", [{"name": f"pv-{tag}", "cidr": "10.55.0.0/24"}])
    hosts = api.create("cmdb", "host", [{"name": f"pv-{tag}-{i}", "ip": f"10.55.0.{i}", "subnet": subnet["id"]}
                                        for i in (1, 2, 3)])  # fmt: skip
    return api, subnet, [h["id"] for h in hosts]


def _process() -> Process:
    nodes = (
        Node(id="s", type="start"),
        Node(id="a", type="automatic", service_name="host/host/check", routine_expression=HOSTS),
        Node(id="b", type="automatic", service_name="host/host/check", routine_expression="x", dynamic_bind=1,
             bind_node_id="a"),
        Node(id="c", type="automatic", service_name="host/host/check", routine_expression=HOSTS + ".NONE",
             dynamic_bind=2),
        Node(id="d", type="data", routine_expression="cmdb:subnet.NONE"),
        Node(id="e", type="end"),
    )  # fmt: skip
    edges = tuple(Edge(id=f"f{i}", source=x, target=y) for i, (x, y) in enumerate(zip("sabcd", "abcde", strict=True)))
    return Process(key="pv", name="preview", version="v1", root_entity="cmdb:subnet", nodes=nodes, edges=edges,
                   source_format="wecube-v4")  # fmt: skip


def test_each_node_binds_at_start_or_reuses_or_waits_and_exclusions_hold(world):
    api, subnet, hosts = world
    p = _process()
    shown = preview(p, Evaluator(api), subnet["id"], {"a": [hosts[0]], "b": [hosts[1]]})
    assert [e["id"] for e in shown["a"]] == hosts[1:]
    assert [e["id"] for e in shown["b"]] == hosts[2:]  # a's exclusion, then its own
    assert "c" not in shown  # dynamicBind 2: evaluated when the node runs
    assert [e["id"] for e in shown["d"]] == [subnet["id"]]
    assert all(e["path"] == f"{subnet['id']}::{e['id']}" for e in shown["a"])
    recorded = bindings(p, Evaluator(api), subnet["id"], {"a": [hosts[0]], "b": [hosts[1]]})
    assert recorded["nodes"] == shown and recorded["root"] == {"id": subnet["id"], "displayName": subnet["name"]}


def test_a_missing_root_or_an_unknown_node_is_refused(world):
    api, subnet, _ = world
    with pytest.raises(BindError, match="needs a root entity id"):
        preview(_process(), Evaluator(api), "")
    with pytest.raises(BindError, match="no cmdb:subnet has id 'nope'"):
        preview(_process(), Evaluator(api), "nope")
    with pytest.raises(BindError, match="does not have: zz"):
        bindings(_process(), Evaluator(api), subnet["id"], {"zz": ["x"]})


def test_the_cli_prints_candidates_and_the_entities_per_node(world, sandbox, tmp_path):
    api, subnet, hosts = world
    ProcessStore(tmp_path).save([_process()])
    env = {**os.environ, "WECUBE_ENTITY_URL": sandbox.url, "WECUBE_ENTITY_TOKEN": sandbox.token}
    wecube = [str(Path(sys.executable).with_name("wecube")), "processes", "preview", "pv", "--processes", str(tmp_path)]
    out = subprocess.run(wecube, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert f"{subnet['id']}  {subnet['name']}" in out.stdout
    out = subprocess.run([*wecube, "--root", subnet["id"], "--exclude", json.dumps({"a": [hosts[2]]})], env=env,
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "a (automatic): 2 entities" in out.stdout and "c (automatic): evaluated when the node runs" in out.stdout
    assert hosts[2] not in out.stdout.split("b (automatic)")[0]
