"""Expressions evaluated over the sandbox CMDB's entity API on loopback: hops, filters, paths, queries."""

from __future__ import annotations

import pytest
import requests

from airflow_wecube.datamodel.client import EntityApi, EntityApiError
from airflow_wecube.datamodel.evaluate import Evaluator, unique
from airflow_wecube.datamodel.model import DataModelError


def _names(rows) -> list[str]:
    return sorted(r.data["name"].rsplit("-", 1)[0] for r in rows)


def test_backward_reference_lists_the_hosts_of_a_subnet(entity_api, topology):
    rows = Evaluator(entity_api).evaluate("cmdb:subnet~(subnet)cmdb:host", root=topology["s0"])
    assert _names(rows) == ["h0", "h3", "h6"]
    assert {r.path_text for r in rows} == {f"{topology['s0']}::{topology[h]}" for h in ("h0", "h3", "h6")}
    assert all(r.data["subnet"] == topology["s0"] and r.data["displayName"] == r.data["name"] for r in rows)


def test_multi_hop_with_filters_and_a_trailing_attribute(entity_api, topology):
    t = topology
    expr = (
        f"cmdb:data_center{{region eq 'r-{t.tag}'}}~(data_center)cmdb:vpc~(vpc)cmdb:subnet{{zone eq 'z1'}}"
        "~(subnet)cmdb:host{port_base gt 250}.ip"
    )
    rows = Evaluator(entity_api).evaluate(expr)
    assert _names(rows) == ["h3", "h4", "h6"]
    assert sorted(r.to_dict("ip")["value"] for r in rows) == ["10.0.0.13", "10.0.0.16", "10.0.1.14"]
    assert all(len(r.path) == 4 and r.path[:2] == (t["dc"], t["vpc"]) for r in rows)


def test_forward_references_walk_up(entity_api, topology):
    rows = Evaluator(entity_api).evaluate(
        "cmdb:app_instance{app eq 'web'}.host>cmdb:host.subnet>cmdb:subnet.vpc>cmdb:vpc.cidr",
        roots=[topology["ai0"], topology["ai1"], topology["ai-db"]],
    )
    assert [r.root for r in rows] == [topology["ai0"], topology["ai1"]]  # ai-db fails the filter
    assert {r.id for r in rows} == {topology["vpc"]}
    assert rows[0].path == (topology["ai0"], topology["h0"], topology["s0"], topology["vpc"])


def test_filters_in_like_neq_is(entity_api, topology):
    ev = Evaluator(entity_api)
    sys = f"cmdb:app_system{{code eq 'SYS{topology.tag}'}}~(app_system)cmdb:unit"
    assert _names(ev.evaluate(sys + "{unit_type in ['@@0002_0000000012@@APP','x']}")) == ["u-app"]
    assert _names(ev.evaluate(sys + "{code neq 'APP'}")) == ["u-db"]
    assert _names(ev.evaluate(sys + "{code like 'D'}")) == ["u-db"]
    assert _names(ev.evaluate(sys + "{code notLike 'D'}")) == ["u-app"]
    units = ev.evaluate(sys + "~(unit)cmdb:app_instance{pid is NULL}")
    assert _names(units) == ["ai-db", "ai0", "ai1", "ai2"]
    assert ev.evaluate(sys + "~(unit)cmdb:app_instance{pid isnot NULL}") == []


def test_an_empty_hop_ends_the_walk_without_more_queries(entity_api, topology):
    ev = Evaluator(entity_api)
    ev.evaluate("cmdb:host.id", root=topology["h0"])  # reads the data model once
    before = entity_api.requests
    assert (
        ev.evaluate("cmdb:subnet{zone eq 'nowhere'}~(subnet)cmdb:host~(host)cmdb:app_instance", root=topology["s0"])
        == []
    )
    assert entity_api.requests - before == 1


def test_one_query_per_hop_per_chunk_of_ids(entity_api, topology):
    ev = Evaluator(entity_api, chunk=2)
    ev.check("cmdb:host")
    before = entity_api.requests
    rows = ev.evaluate("cmdb:vpc~(vpc)cmdb:subnet~(subnet)cmdb:host", root=topology["vpc"])
    assert len(rows) == 7
    # vpc: 1 query; subnets: 1 (one parent id); hosts: 3 subnet ids in chunks of 2 -> 2 queries
    assert entity_api.requests - before == 4
    assert len(unique(rows + rows)) == 7


def test_large_answers_come_page_by_page(sandbox, topology):
    api = EntityApi.at(sandbox.url, sandbox.token, page_size=2)
    rows = Evaluator(api).evaluate("cmdb:vpc~(vpc)cmdb:subnet~(subnet)cmdb:host", root=topology["vpc"])
    assert len(rows) == 7
    assert api.requests == 1 + 1 + 2 + 4  # data model, vpc, 3 subnets in 2 pages, 7 hosts in 4 pages


def test_unknown_names_are_refused_before_any_query(entity_api, topology):
    ev = Evaluator(entity_api)
    ev.check("cmdb:host")
    before = entity_api.requests
    with pytest.raises(DataModelError) as caught:
        ev.evaluate("cmdb:subnet{zonne eq 'z1'}~(subnet)cmdb:hots")
    assert "no entity 'hots' (closest: host)" in str(caught.value)
    assert "no attribute 'zonne' (closest: zone)" in str(caught.value)
    with pytest.raises(DataModelError, match=r"cmdb:host.vpc refers to cmdb:vpc, not cmdb:subnet \(~\(vpc\)\)"):
        ev.evaluate("cmdb:subnet~(vpc)cmdb:host")
    with pytest.raises(DataModelError, match=r"cmdb:host.ip is not a reference .*references: subnet, vpc"):
        ev.evaluate("cmdb:host.ip>cmdb:subnet")
    with pytest.raises(DataModelError, match=r"no attribute 'ipp' \(closest: ip\)"):
        ev.evaluate("cmdb:host.ipp")
    assert entity_api.requests == before
    with pytest.raises(DataModelError, match="cannot read the data model of package nosuch"):
        ev.evaluate("nosuch:thing")


def test_entity_api_writes_and_refusals(sandbox, entity_api, topology):
    (h,) = entity_api.update("cmdb", "host", [{"id": topology["h1"], "status": "running", "port_base": "7"}])
    assert (h["status"], h["port_base"]) == ("running", 7)
    with pytest.raises(EntityApiError, match="no attribute 'colour'"):
        entity_api.update("cmdb", "host", [{"id": topology["h1"], "colour": "red"}])
    with pytest.raises(EntityApiError, match="subnet: no subnet has id 'nope'"):
        entity_api.create("cmdb", "host", [{"name": "x", "subnet": "nope"}])
    with pytest.raises(EntityApiError, match="is referred to by host"):
        entity_api.delete("cmdb", "subnet", [topology["s1"]])
    extra = entity_api.create("cmdb", "host", [{"id": f"new-{topology.tag}", "subnet": topology["s1"]}])[0]
    assert extra["name"] == extra["id"] == f"new-{topology.tag}"
    with pytest.raises(EntityApiError, match="exists already"):
        entity_api.create("cmdb", "host", [{"id": extra["id"]}])
    assert entity_api.delete("cmdb", "host", [extra["id"]])[0]["id"] == extra["id"]
    assert Evaluator(entity_api).evaluate("cmdb:host", root=extra["id"]) == []
    denied = requests.post(f"{sandbox.url}/cmdb/entities/host/query", json={}, timeout=10)
    assert denied.status_code == 401 and denied.json()["status"] == "ERROR"
    bad = requests.post(
        f"{sandbox.url}/cmdb/entities/host/query",
        json={"pageable": {"pageSize": 0}},
        headers=sandbox.headers,
        timeout=10,
    )
    assert bad.status_code == 400 and "pageSize" in bad.json()["message"]
