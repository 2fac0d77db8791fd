"""Data-model checks (pure): entities, attributes and references of an expression, closest names."""

from __future__ import annotations

import pytest

from airflow_wecube.datamodel.binding import BindingError, entity_mapped
from airflow_wecube.datamodel.expression import parse
from airflow_wecube.datamodel.model import DataModel, DataModelError, check
from airflow_wecube.registry.models import Interface, Parameter, Service

MODEL = DataModel.from_api(
    "cmdb",
    {
        "packageName": "cmdb",
        "entities": [
            {"name": "subnet", "attributes": [{"name": "cidr", "dataType": "str"}]},
            {
                "name": "host",
                "attributes": [
                    {"name": "ip", "dataType": "str"},
                    {"name": "subnet", "dataType": "ref", "refPackageName": "cmdb", "refEntityName": "subnet"},
                ],
            },
        ],
    },
)


def _models(package: str) -> DataModel:
    if package != "cmdb":
        raise DataModelError(f"no data model for {package}")
    return MODEL


def test_a_valid_expression_passes_and_builtins_exist():
    check(parse("cmdb:subnet{cidr eq 'x'}~(subnet)cmdb:host{id in ['a']}.displayName"), _models)
    check(parse("cmdb:host.subnet>cmdb:subnet.cidr"), _models)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("cmdb:hosts", "package cmdb has no entity 'hosts' (closest: host)"),
        ("cmdb:host{ipp eq 'x'}", "cmdb:host has no attribute 'ipp' (closest: ip) (filter {ipp eq 'x'})"),
        ("cmdb:host.subnett>cmdb:subnet", "cmdb:host has no attribute 'subnett' (closest: subnet) (.subnett>)"),
        ("cmdb:host.ip>cmdb:subnet", "cmdb:host.ip is not a reference (.ip> needs one; references: subnet)"),
        ("cmdb:subnet.subnet>cmdb:host", "cmdb:subnet has no attribute 'subnet'"),
        ("cmdb:host~(subnet)cmdb:host", "cmdb:host.subnet refers to cmdb:subnet, not cmdb:host (~(subnet))"),
        ("cmdb:host.cidr", "cmdb:host has no attribute 'cidr'"),
    ],
)
def test_unknown_names_and_wrong_references(text, problem):
    with pytest.raises(DataModelError) as e:
        check(parse(text), _models)
    assert problem in str(e.value)
    assert str(e.value).startswith(text + ": ")


def test_every_problem_at_once_and_unknown_packages():
    with pytest.raises(DataModelError) as e:
        check(parse("cmdb:subnett{cidrr eq 'x'}~(subnet)cmdb:host.ipp"), _models)
    assert "no entity 'subnett'" in str(e.value) and "no attribute 'ipp'" in str(e.value)
    with pytest.raises(DataModelError, match="no data model for wecmdb"):
        check(parse("wecmdb:unit"), _models)


def test_a_data_model_answer_without_entities_is_refused():
    with pytest.raises(DataModelError, match="has no 'entities' list"):
        DataModel.from_api("cmdb", {"packageName": "cmdb"})
    assert DataModel.from_api("cmdb", MODEL.to_api()).to_api() == MODEL.to_api()


def test_entity_mappings_must_parse_and_start_at_the_bound_entity():
    svc = Service(
        name="p/x/y", package="p", version="1", plugin="x",
        interface=Interface(
            action="y", path="/y",
            inputs=(
                Parameter(name="ip", mapping_type="entity", mapping_entity_expression="cmdb:host.ip"),
                Parameter(name="bad", mapping_type="entity", mapping_entity_expression="cmdb:host.ip.x"),
                Parameter(name="other", mapping_type="entity", mapping_entity_expression="cmdb:subnet.cidr"),
                Parameter(name="unmapped", mapping_type="entity"),
                Parameter(name="constant", mapping_type="constant"),
            ),
        ),
    )  # fmt: skip
    with pytest.raises(BindingError) as e:
        entity_mapped(svc, svc.interface.inputs, parse("cmdb:subnet~(subnet)cmdb:host"))
    message = str(e.value)
    assert "bad: mappingEntityExpression does not parse" in message and "^" in message
    assert (
        "other: mappingEntityExpression cmdb:subnet.cidr starts at cmdb:subnet, but the call is bound to cmdb:host"
        in message
    )
    good = svc.interface.inputs[:1]
    assert entity_mapped(svc, good, parse("cmdb:host")) == {"ip": parse("cmdb:host.ip")}
