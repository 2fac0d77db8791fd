"""Entity-bound plugin calls on the sandbox: hosts the network and host plugins placed in a subnet,
checked by ``host/host/check`` with inputs read from their CMDB attributes and outputs written back."""

from __future__ import annotations

import pytest

from airflow_wecube.datamodel.client import EntityApi
from airflow_wecube.datamodel.evaluate import Evaluator
from airflow_wecube.exceptions import WeCubePluginError

pytestmark = pytest.mark.integration
HOSTS = "cmdb:subnet~(subnet)cmdb:host"


def _writes(sandbox, entity="host") -> list[dict]:
    return [
        c
        for c in sandbox.calls()
        if c["path"] in (f"/cmdb/entities/{entity}/update", f"/cmdb/entities/{entity}/create")
    ]


def test_hosts_of_a_subnet_are_checked_from_their_attributes_and_the_outputs_written_back(hook, sandbox, placed):
    subnet = placed["subnet"]
    before = len(_writes(sandbox))
    result = hook.call("host/host/check", entities=HOSTS, root=subnet["guid"], request_id="dm-check-1")
    # one call, one input per host, callbackParameter = the host's id, inputs from its attributes
    (call,) = sandbox.calls("dm-check-1")
    by_id = {i["callbackParameter"]: i for i in call["inputs"]}
    assert set(by_id) == set(placed["hosts"])
    for guid, host in placed["hosts"].items():
        assert by_id[guid] == {
            "callbackParameter": guid,
            "host": host["name"],
            "ip": host["ip"],
            "subnet_cidr": subnet["cidr"],
        }
    assert {o["inventory_status"] for o in result.outputs} == {"ok"}
    assert len(result.writeback.updated) == 3
    # the outputs are on the entities: a second query sees them
    api = EntityApi.at(sandbox.url, sandbox.token)
    rows = Evaluator(api).evaluate(HOSTS + ".inventory_status", root=subnet["guid"])
    assert {r.id: r.data["inventory_status"] for r in rows} == {g: "ok" for g in placed["hosts"]}
    assert all(r.data["inventory_note"].endswith("running, workspace present") for r in rows)
    assert len(_writes(sandbox)) == before + 1  # one update request for the three hosts

    # a retry (same requestId: the plugin replays its answer) writes nothing twice
    again = hook.call("host/host/check", entities=HOSTS, root=subnet["guid"], request_id="dm-check-1")
    assert again.writeback.updated == [] and again.writeback.unchanged == 3
    assert len(_writes(sandbox)) == before + 1


def test_explicit_inputs_win_and_only_succeeded_entities_are_written(hook, sandbox, placed):
    subnet = placed["subnet"]
    first, second, third = placed["hosts"]
    api = EntityApi.at(sandbox.url, sandbox.token)
    hook.call(
        "host/host/check",
        entities=HOSTS,
        root=subnet["guid"],
        inputs=[{"callbackParameter": second, "ip": "10.250.0.9"}],
        request_id="dm-check-override",
    )
    status = {r.id: r.data for r in Evaluator(api).evaluate(HOSTS, root=subnet["guid"])}
    assert status[second]["inventory_status"] == "mismatch"
    assert "outside its subnet" in status[second]["inventory_note"]
    assert status[first]["inventory_status"] == status[third]["inventory_status"] == "ok"

    # the CMDB's address of one host is broken: that entity fails, the others are still written
    api.update("cmdb", "host", [{"id": third, "ip": "not-an-ip", "inventory_status": "unknown"}])
    api.update("cmdb", "host", [{"id": first, "inventory_status": "unknown"}])
    with pytest.raises(WeCubePluginError) as caught:
        hook.call("host/host/check", entities=HOSTS, root=subnet["guid"], request_id="dm-check-partial")
    assert [o["callbackParameter"] for o in caught.value.result.failed] == [third]
    status = {r.id: r.data for r in Evaluator(api).evaluate(HOSTS, root=subnet["guid"])}
    assert status[first]["inventory_status"] == "ok"
    assert status[third]["inventory_status"] == "unknown"
    assert caught.value.result.writeback.updated[0][1] == first


def test_no_entity_is_a_no_op_that_says_so_unless_required(hook, sandbox, placed):
    expr = "cmdb:subnet{zone eq 'nowhere'}~(subnet)cmdb:host"
    result = hook.call("host/host/check", entities=expr, root=placed["subnet"]["guid"], request_id="dm-none")
    assert result.ok and result.outputs == []
    assert "reaches no entity: host/host/check not called" in result.result_message
    assert sandbox.calls("dm-none") == []
    with pytest.raises(WeCubePluginError, match="reaches no entity.*require_entities=True"):
        hook.call("host/host/check", entities=expr, root=placed["subnet"]["guid"], require_entities=True)


def test_a_wrong_expression_fails_before_any_call(hook, sandbox, placed):
    from airflow_wecube.datamodel.binding import BindingError
    from airflow_wecube.datamodel.model import DataModelError

    with pytest.raises(DataModelError, match="no entity 'hosts' \\(closest: host\\)"):
        hook.call("host/host/check", entities="cmdb:subnet~(subnet)cmdb:hosts", request_id="dm-bad")
    with pytest.raises(BindingError, match="starts at cmdb:host, but the call is bound to cmdb:subnet entities"):
        hook.call("host/host/check", entities="cmdb:subnet", request_id="dm-bad")
    assert sandbox.calls("dm-bad") == []


def test_a_package_connection_wins_over_the_default(sandbox, monkeypatch):
    import json

    from airflow_wecube.hooks.entities import conn_id_for_package, entity_api
    from airflow_wecube.hooks.plugin import WeCubePluginHook
    from tests.fixtures.processes import free_port

    monkeypatch.setenv(
        "AIRFLOW_CONN_WECUBE_DEFAULT", json.dumps({"conn_type": "wecube", "host": f"http://127.0.0.1:{free_port()}"})
    )
    assert conn_id_for_package("cmdb") == "wecube_default"
    monkeypatch.setenv(
        "AIRFLOW_CONN_WECUBE_CMDB", json.dumps({"conn_type": "wecube", "host": sandbox.url, "password": sandbox.token})
    )
    assert conn_id_for_package("cmdb") == "wecube_cmdb"
    assert "host" in entity_api(WeCubePluginHook).data_model("cmdb").entities
