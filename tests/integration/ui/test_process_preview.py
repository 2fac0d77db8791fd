"""The process page's preview route over the sandbox's entity API, reached through the real
``wecube_default`` connection: root candidates, per-node entities, and each error as a clear 4xx/5xx
JSON answer (unknown root, CMDB down, no connection). Airflow's permission checks are answered "yes"
(tests/fixtures/ui_app.py); the browser side is in test_process_panel.py."""

from __future__ import annotations

import json
import secrets

import pytest
from fastapi.testclient import TestClient

from airflow_wecube.datamodel.client import EntityApi
from airflow_wecube.processes import ProcessStore
from airflow_wecube.processes.model import Edge, Node, Process
from tests.fixtures.processes import free_port

HOSTS = "cmdb:subnet~(subnet)cmdb:host"
EVIL_NODE = "<img src=x onerror=alert(1)> check"


def preview_process() -> Process:
    """Root cmdb:subnet; a binds the subnet's hosts, b reuses a's, c binds when it runs, d the subnet."""
    nodes = (
        Node(id="s", type="start", name="start"),
        Node(id="a", type="automatic", name=EVIL_NODE, service_name="host/host/check", routine_expression=HOSTS),
        Node(id="b", type="automatic", name="again", service_name="host/host/check", routine_expression="x",
             dynamic_bind=1, bind_node_id="a"),
        Node(id="c", type="automatic", name="later", service_name="host/host/check",
             routine_expression=HOSTS + ".NONE", dynamic_bind=2),
        Node(id="d", type="data", name="write back", routine_expression="cmdb:subnet.NONE"),
        Node(id="e", type="end", name="end"),
    )  # fmt: skip
    edges = tuple(Edge(id=f"f{i}", source=x, target=y) for i, (x, y) in enumerate(zip("sabcd", "abcde", strict=True)))
    return Process(key="pv_ui", name="preview ui", version="v1", root_entity="cmdb:subnet", nodes=nodes, edges=edges,
                   source_format="wecube-v4")  # fmt: skip


@pytest.fixture
def world(sandbox, wecube_conn, tmp_path, monkeypatch):
    """A subnet with three hosts (one name holds HTML) and the process stored; ``wecube_default`` set."""
    api = EntityApi.at(sandbox.url, sandbox.token)
    tag = secrets.token_hex(3)
    [subnet] = api.create("cmdb", "subnet", [{"name": f"<b>pv-{tag}</b>", "cidr": "10.56.0.0/24"}])
    hosts = api.create("cmdb", "host", [{"name": f"<i>pv-{tag}-{i}</i>", "ip": f"10.56.0.{i}", "subnet": subnet["id"]}
                                        for i in (1, 2, 3)])  # fmt: skip
    store = ProcessStore(tmp_path / "wecube_processes")
    store.save([preview_process()])
    monkeypatch.setenv("WECUBE_PROCESSES_PATH", str(store.root))
    return subnet, [h["id"] for h in hosts]


@pytest.fixture
def client(airflow_db):
    from tests.fixtures.ui_app import open_app

    return TestClient(open_app())


def test_candidates_then_the_entities_each_node_will_act_on(client, world):
    subnet, hosts = world
    body = client.get("/api/processes/pv_ui/preview").json()
    assert body["root_entity"] == "cmdb:subnet" and body["total"] >= 1
    assert {"id": subnet["id"], "displayName": subnet["name"], "path": subnet["id"]} in body["candidates"]

    r = client.get("/api/processes/pv_ui/preview", params={"root": subnet["id"], "version": "v1"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["root"]["id"] == subnet["id"] and body["root"]["displayName"] == subnet["name"]
    assert set(body["nodes"]) == {"a", "b", "d"} and body["at_run"] == ["c"]
    a = body["nodes"]["a"]
    assert a["count"] == 3 and [e["id"] for e in a["entities"]] == hosts
    assert a["element_id"] and a["task_id"] == "a"
    assert body["nodes"]["b"]["entities"] == a["entities"]  # dynamicBind 1 reuses a's
    assert [e["id"] for e in body["nodes"]["d"]["entities"]] == [subnet["id"]]
    detail = client.get("/api/processes/pv_ui").json()
    assert a["element_id"] == {n["id"]: n for n in detail["nodes"]}["a"]["element_id"]


def test_an_unknown_root_process_or_blank_root_is_a_clear_4xx(client, world):
    r = client.get("/api/processes/pv_ui/preview", params={"root": "nope"})
    assert r.status_code == 404 and r.json()["detail"] == "no cmdb:subnet has id 'nope'"
    assert client.get("/api/processes/nosuch/preview").status_code == 404
    assert client.get("/api/processes/pv_ui/preview", params={"version": "v9"}).status_code == 404
    assert client.get("/api/processes/pv_ui/preview", params={"root": ""}).status_code == 422


def test_a_cmdb_down_is_a_502_and_no_connection_a_503_with_the_reason(client, world, sandbox, monkeypatch):
    subnet, _ = world
    down = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv(
        "AIRFLOW_CONN_WECUBE_DEFAULT", json.dumps({"conn_type": "wecube", "host": down, "password": sandbox.token})
    )
    for params in ({}, {"root": subnet["id"]}):
        r = client.get("/api/processes/pv_ui/preview", params=params)
        assert r.status_code == 502, r.text
        assert r.json()["detail"].startswith("the CMDB's entity API: ") and down in r.json()["detail"]
        assert sandbox.token not in r.text
    monkeypatch.delenv("AIRFLOW_CONN_WECUBE_DEFAULT")
    r = client.get("/api/processes/pv_ui/preview", params={"root": subnet["id"]})
    assert r.status_code == 503, r.text
    assert "wecube_default" in r.json()["detail"]
