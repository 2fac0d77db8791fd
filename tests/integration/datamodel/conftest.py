"""A small topology in the session's sandbox CMDB, built through its entity API, named per test."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

import pytest

from airflow_wecube.datamodel.client import EntityApi
from airflow_wecube.hooks.plugin import WeCubePluginHook


@dataclass
class Topology:
    """dc -> vpc -> 3 subnets -> 7 hosts (host i in subnet i % 3), an app system with 2 units (the APP
    unit's type is the id of a WeCube enum value, as `@@0002_0000000012@@APP` names it) and 4 instances."""

    tag: str
    ids: dict[str, str] = field(default_factory=dict)

    def __getitem__(self, name: str) -> str:
        return self.ids[name]


@pytest.fixture
def entity_api(sandbox) -> EntityApi:
    return EntityApi.at(sandbox.url, sandbox.token)


@pytest.fixture
def topology(entity_api) -> Topology:
    t = Topology(secrets.token_hex(4))
    api = entity_api

    def make(entity: str, name: str, **attrs) -> str:
        t.ids[name] = api.create("cmdb", entity, [{"name": f"{name}-{t.tag}", **attrs}])[0]["id"]
        return t.ids[name]

    make("data_center", "dc", region=f"r-{t.tag}")
    make("vpc", "vpc", cidr="10.0.0.0/16", data_center=t["dc"])
    for i in range(3):
        make("subnet", f"s{i}", cidr=f"10.0.{i}.0/24", zone="z1" if i < 2 else "z2", vpc=t["vpc"])
    for i in range(7):
        make("host", f"h{i}", ip=f"10.0.{i % 3}.{10 + i}", subnet=t[f"s{i % 3}"], vpc=t["vpc"], port_base=100 * i)
    make("app_system", "sys", code=f"SYS{t.tag}")
    make("unit", "u-app", code="APP", unit_type="0002_0000000012", app_system=t["sys"])
    make("unit", "u-db", code="DB", unit_type="MYSQL", app_system=t["sys"])
    for i in (0, 1, 2):
        make("app_instance", f"ai{i}", app="web", host=t[f"h{i}"], unit=t["u-app"], port=8080 + i)
    make("app_instance", "ai-db", app="db", host=t["h3"], unit=t["u-db"], port=3306)
    return t


@pytest.fixture
def hook(wecube_conn, plugin_registry):
    return WeCubePluginHook(registry=plugin_registry, retry_delay=0.05)


@pytest.fixture
def placed(hook):
    """A VPC, a subnet and three hosts made by the real plugins (as the network build and rollout do)."""
    tag = secrets.token_hex(3)
    second = int(tag[:2], 16)
    vpc = hook.call(
        "network/vpc/create", {"name": f"dm-vpc-{tag}", "cidr": f"10.{second}.0.0/16", "data_center": f"dm-dc-{tag}"}
    ).outputs[0]
    subnet = hook.call(
        "network/subnet/create", {"name": f"dm-sub-{tag}", "vpc": vpc["guid"], "zone": "z1", "prefix_length": 24}
    ).outputs[0]
    hosts = hook.call(
        "host/host/create",
        [{"callbackParameter": str(i), "name": f"dm-h{i}-{tag}", "subnet": subnet["guid"]} for i in range(3)],
    ).outputs
    return {"subnet": subnet, "hosts": {h["guid"]: h for h in hosts}, "vpc": vpc}
