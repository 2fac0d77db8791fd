"""The sandbox's query and delete interfaces a reconcile reads reality through, the CMDB's delete and
guid-keeping create, the deploy plugin's instance query, and outages on purpose."""

from __future__ import annotations

import pytest
import requests

from tests.integration.sandbox.helpers import one, query_ci, uniq

pytestmark = pytest.mark.integration


@pytest.fixture
def vpc(sandbox):
    name = uniq("vq")
    one(sandbox, "/network/v1/vpc/create", name=name, cidr="10.71.0.0/16", data_center="dc-q")
    return name


def test_query_answers_the_plugins_own_state_not_the_record(sandbox, vpc):
    sn = one(sandbox, "/network/v1/subnet/create", name=f"{vpc}-a", vpc=vpc, zone="a", prefix_length=24)
    one(sandbox, "/network/v1/security-group/create", name=f"{vpc}-sg", vpc=vpc, rules=[])
    [item] = one(sandbox, "/network/v1/subnet/query", vpc=vpc)["items"]
    assert item == {
        "guid": sn["guid"],
        "name": f"{vpc}-a",
        "vpc": vpc,
        "vpc_guid": sn["vpc_guid"],
        "cidr": "10.71.0.0/24",
        "prefix_length": 24,
        "zone": "a",
    }
    # the CMDB record removed: the plugin still has it
    [record] = query_ci(sandbox, "security_group", f"{vpc}-sg")
    assert one(sandbox, "/cmdb/v1/ci/delete", guid=record["guid"])["deleted"] == "Y"
    assert one(sandbox, "/cmdb/v1/ci/delete", guid=record["guid"])["deleted"] == "N"
    [sg] = one(sandbox, "/network/v1/security-group/query", vpc=vpc)["items"]
    assert sg["guid"] == record["guid"] and sg["rules"] == []
    # written again with the resource's own guid; a guid of another CI is refused
    again = one(sandbox, "/cmdb/v1/ci/create", type="security_group", name=f"{vpc}-sg", guid=sg["guid"])
    assert again["guid"] == sg["guid"] and again["created"] == "Y"
    out = one(sandbox, "/cmdb/v1/ci/create", code="1", type="security_group", name="other", guid=sg["guid"])
    assert "is taken by another CI" in out["errorMessage"]
    [vpc_item] = one(sandbox, "/network/v1/vpc/query", name=vpc)["items"]
    assert vpc_item["cidr"] == "10.71.0.0/16"
    assert "unknown VPC" in one(sandbox, "/network/v1/subnet/query", code="1", vpc="nowhere")["errorMessage"]


def test_delete_removes_the_resource_and_its_record_and_refuses_a_subnet_with_hosts(sandbox, vpc):
    one(sandbox, "/network/v1/subnet/create", name=f"{vpc}-a", vpc=vpc, zone="a", prefix_length=24)
    one(sandbox, "/network/v1/route-table/create", name=f"{vpc}-rt", vpc=vpc, routes=[])
    host = one(sandbox, "/host/v1/host/create", name=uniq("qh"), subnet=f"{vpc}-a")
    refused = one(sandbox, "/network/v1/subnet/delete", code="1", name=f"{vpc}-a")
    assert "still holds host(s)" in refused["errorMessage"]
    one(sandbox, "/host/v1/host/destroy", host=host["guid"])
    assert one(sandbox, "/network/v1/subnet/delete", name=f"{vpc}-a")["deleted"] == "Y"
    assert one(sandbox, "/network/v1/subnet/delete", name=f"{vpc}-a")["deleted"] == "N"
    assert query_ci(sandbox, "subnet", f"{vpc}-a") == []
    assert one(sandbox, "/network/v1/route-table/delete", name=f"{vpc}-rt")["deleted"] == "Y"
    assert one(sandbox, "/network/v1/route-table/query", vpc=vpc)["items"] == []


def test_deploy_query_answers_what_runs_now(sandbox, vpc):
    one(sandbox, "/network/v1/subnet/create", name=f"{vpc}-a", vpc=vpc, zone="a", prefix_length=24)
    app, name = uniq("qa"), uniq("qh")
    host = one(sandbox, "/host/v1/host/create", name=name, subnet=f"{vpc}-a")
    one(sandbox, "/deploy/v1/app/deploy", host=host["guid"], app=app, version="1.0.0")
    [item] = one(sandbox, "/deploy/v1/app/query", app=app)["items"]
    assert (item["status"], item["host_alive"], item["version"]) == ("running", "Y", "1.0.0")
    one(sandbox, "/deploy/v1/app/crash", host=name, app=app)
    [item] = one(sandbox, "/deploy/v1/app/query", app=app)["items"]
    assert (item["status"], item["host_alive"]) == ("failed", "Y")
    # a destroyed host takes its instances with it: the plugin runs nothing there any more
    one(sandbox, "/host/v1/host/destroy", host=name)
    assert one(sandbox, "/deploy/v1/app/query", app=app)["items"] == []


def test_an_outage_answers_503_for_that_many_calls(sandbox):
    headers = sandbox.headers
    r = requests.post(
        f"{sandbox.url}/sandbox/outages", json={"service": "faults/fault/echo", "calls": 2}, headers=headers, timeout=10
    )
    assert r.status_code == 200
    codes = [sandbox.post("/faults/v1/fault/echo", [{"callbackParameter": "x"}]).status_code for _ in range(3)]
    assert codes == [503, 503, 200]
    bad = requests.post(
        f"{sandbox.url}/sandbox/outages", json={"service": "no/such/thing"}, headers=headers, timeout=10
    )
    assert bad.status_code == 400
    assert (
        requests.post(f"{sandbox.url}/sandbox/outages", json={"service": "faults/fault/echo"}, timeout=10).status_code
        == 401
    )
