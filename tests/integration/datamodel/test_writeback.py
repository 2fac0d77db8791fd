"""Write-back through references, creation of a new entity, failed and sensitive outputs, on the sandbox."""

from __future__ import annotations

import pytest

from airflow_wecube.datamodel.binding import bind
from airflow_wecube.datamodel.evaluate import Evaluator
from airflow_wecube.datamodel.writeback import write_back
from airflow_wecube.registry.models import Interface, Parameter, Service

pytestmark = pytest.mark.integration


def _service(*outputs: Parameter, inputs: tuple[Parameter, ...] = ()) -> Service:
    return Service(
        name="test/unit/deploy", package="test", version="1", plugin="unit",
        interface=Interface(action="deploy", path="/t", inputs=inputs, outputs=outputs),
    )  # fmt: skip


def _out(name: str, expression: str, **kw) -> Parameter:
    return Parameter(name=name, mapping_type="entity", mapping_entity_expression=expression, **kw)


def test_an_output_id_through_a_backward_reference_creates_the_entity_once(entity_api, topology):
    ev = Evaluator(entity_api)
    svc = _service(
        _out("instance_id", "cmdb:unit~(unit)cmdb:app_instance{app eq 'cache'}.id"),
        _out("instance_port", "cmdb:unit~(unit)cmdb:app_instance{app eq 'cache'}.port"),
        _out("instance_app", "cmdb:unit~(unit)cmdb:app_instance{app eq 'cache'}.app"),
    )
    binding = bind(ev, svc, "cmdb:unit", root=topology["u-db"])
    new_id = f"cache-{topology.tag}"
    outputs = [
        {
            "callbackParameter": topology["u-db"],
            "errorCode": "0",
            "instance_id": new_id,
            "instance_port": 6379,
            "instance_app": "cache",
        }
    ]
    done = write_back(ev, binding, outputs)
    assert [(e, i) for e, i, _ in done.created] == [("cmdb:app_instance", new_id)]
    (row,) = ev.evaluate("cmdb:unit~(unit)cmdb:app_instance{app eq 'cache'}", root=topology["u-db"])
    assert (row.id, row.data["port"], row.data["unit"]) == (new_id, 6379, topology["u-db"])
    again = write_back(ev, binding, outputs)
    assert again.created == [] and again.updated == [] and again.unchanged == 1


def test_outputs_through_a_forward_reference_and_only_for_succeeded_entities(entity_api, topology):
    ev = Evaluator(entity_api)
    svc = _service(
        _out("host_status", "cmdb:app_instance.host>cmdb:host.status"),
        _out("secret", "cmdb:app_instance.message", sensitive=True),
    )
    binding = bind(ev, svc, "cmdb:unit~(unit)cmdb:app_instance", root=topology["u-app"])
    assert {r.id for r in binding.rows} == {topology["ai0"], topology["ai1"], topology["ai2"]}
    outputs = [
        {"callbackParameter": topology["ai0"], "errorCode": "0", "host_status": "drained", "secret": "***"},
        {"callbackParameter": topology["ai1"], "errorCode": "1", "errorMessage": "no", "host_status": "broken"},
    ]
    done = write_back(ev, binding, outputs)
    assert [(e, i, a) for e, i, a in done.updated] == [("cmdb:host", topology["h0"], {"status": "drained"})]
    assert "secret is sensitive: not written back" in done.notes
    hosts = {r.id: r.data for r in ev.evaluate("cmdb:subnet~(subnet)cmdb:host", root=topology["s1"])}
    assert hosts[topology["h1"]]["status"] is None  # its entity failed: nothing written


def test_inputs_through_references_one_query_per_hop(entity_api, topology):
    ev = Evaluator(entity_api)
    svc = _service(
        inputs=(
            Parameter(
                name="ip", mapping_type="entity", mapping_entity_expression="cmdb:app_instance.host>cmdb:host.ip"
            ),
            Parameter(
                name="cidr",
                mapping_type="entity",
                mapping_entity_expression="cmdb:app_instance.host>cmdb:host.subnet>cmdb:subnet.cidr",
            ),
            Parameter(name="port", mapping_type="entity", mapping_entity_expression="cmdb:app_instance.port"),
            Parameter(name="owner", mapping_type="constant"),
        )
    )
    ev.check("cmdb:host")
    before = entity_api.requests
    binding = bind(ev, svc, "cmdb:unit~(unit)cmdb:app_instance", root=topology["u-app"], inputs={"owner": "ops"})
    by_id = {i["callbackParameter"]: i for i in binding.inputs}
    assert by_id[topology["ai2"]] == {
        "callbackParameter": topology["ai2"],
        "ip": "10.0.2.12",
        "cidr": "10.0.2.0/24",
        "port": 8082,
        "owner": "ops",
    }
    # unit, app instances; then from those rows, ip: host; cidr: host, subnet
    assert entity_api.requests - before == 2 + 1 + 2
