"""The sandbox ``host`` plugin over real HTTP: addresses from the subnet, workspaces, loopback
port ranges, destroy."""

from __future__ import annotations

import ipaddress
import itertools
import json
import socket
from pathlib import Path

import pytest

from tests.integration.sandbox.helpers import one, outputs, query_ci, uniq

pytestmark = pytest.mark.integration


def make_subnet(sandbox, prefix_length: int = 24) -> dict:
    vpc = one(sandbox, "/network/v1/vpc/create", name=uniq("vpc"), cidr="10.80.0.0/16", data_center="dc-host")
    return one(
        sandbox, "/network/v1/subnet/create", name=uniq("sn"), vpc=vpc["guid"], zone="a", prefix_length=prefix_length
    )


def port_range(out: dict) -> range:
    return range(out["port_base"], out["port_base"] + out["port_count"])


def test_hosts_get_distinct_addresses_ports_and_workspaces(sandbox):
    subnet = make_subnet(sandbox)
    names = [uniq("h") for _ in range(3)]
    inputs = [{"callbackParameter": n, "name": n, "subnet": subnet["name"]} for n in names]
    hosts = outputs(sandbox.post("/host/v1/host/create", inputs))
    cidr = ipaddress.ip_network(subnet["cidr"])
    ips = [ipaddress.ip_address(h["ip"]) for h in hosts]
    assert len(set(ips)) == 3 and all(ip in cidr for ip in ips)
    assert str(ips[0]) != subnet["gateway"]
    assert [str(ip) for ip in ips] == [str(cidr.network_address + i) for i in (2, 3, 4)]
    for a, b in itertools.combinations(hosts, 2):
        assert not set(port_range(a)) & set(port_range(b))
    root = sandbox.db_path.parent.resolve() / "hosts"
    for h in hosts:
        assert h["port_count"] == 10 and h["port_base"] >= 20000
        assert h["ports"] == f"{h['port_base']}-{h['port_base'] + 9}"
        assert Path(h["workspace"]) == root / h["name"]
        assert json.loads((Path(h["workspace"]) / "host.json").read_text())["ip"] == h["ip"]
        (ci,) = query_ci(sandbox, "host", h["name"])
        assert ci["guid"] == h["guid"]
        attrs = ci["attributes"]
        assert (attrs["subnet_guid"], attrs["vpc_guid"], attrs["ip"]) == (subnet["guid"], subnet["vpc_guid"], h["ip"])
        assert attrs["status"] == "running"

    rerun = outputs(sandbox.post("/host/v1/host/create", [{**e, "subnet": subnet["guid"]} for e in inputs]))
    assert [(h["guid"], h["ip"], h["port_base"], h["created"]) for h in rerun] == [
        (h["guid"], h["ip"], h["port_base"], "N") for h in hosts
    ]


def test_a_port_in_use_is_never_handed_out(sandbox):
    subnet = make_subnet(sandbox)
    first = one(sandbox, "/host/v1/host/create", name=uniq("h"), subnet=subnet["name"])
    with socket.socket() as busy:
        busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            busy.bind(("127.0.0.1", first["port_base"] + first["port_count"] + 3))
        except OSError:
            pytest.skip("the port next to the first host's range is taken on this machine")
        busy.listen()
        second = one(sandbox, "/host/v1/host/create", name=uniq("h"), subnet=subnet["name"])
        assert busy.getsockname()[1] not in port_range(second)


def test_a_full_subnet_is_a_clear_error_and_destroy_frees_the_address(sandbox):
    subnet = make_subnet(sandbox, prefix_length=29)  # 6 host addresses, the first is the gateway
    names = [uniq("h") for _ in range(6)]
    inputs = [{"callbackParameter": n, "name": n, "subnet": subnet["guid"]} for n in names]
    out = outputs(sandbox.post("/host/v1/host/create", inputs), code="1")
    assert [o["errorCode"] for o in out] == ["0"] * 5 + ["1"]
    assert f"cannot place host {names[5]}: subnet {subnet['cidr']} has no free address left" in out[5]["errorMessage"]
    assert query_ci(sandbox, "host", names[5]) == []

    victim = out[1]
    gone = one(sandbox, "/host/v1/host/destroy", host=victim["name"])
    assert (gone["guid"], gone["status"], gone["destroyed"]) == (victim["guid"], "destroyed", "Y")
    assert gone["stopped_apps"] == []
    assert not Path(victim["workspace"]).exists()
    (ci,) = query_ci(sandbox, "host", victim["name"])
    assert ci["attributes"]["status"] == "destroyed" and "destroyed_at" in ci["attributes"]
    again = one(sandbox, "/host/v1/host/destroy", host=victim["guid"])
    assert (again["guid"], again["destroyed"]) == (victim["guid"], "N")

    # the address is free again
    late = one(sandbox, "/host/v1/host/create", name=names[5], subnet=subnet["name"])
    assert late["ip"] == victim["ip"]


@pytest.mark.parametrize(
    ("path", "entity", "message"),
    [
        ("/host/v1/host/create", {"name": "h-x", "subnet": "no-such-subnet"}, "unknown subnet 'no-such-subnet'"),
        ("/host/v1/host/create", {"name": "../etc", "subnet": "x"}, "input name must be 1-63 letters"),
        ("/host/v1/host/destroy", {"host": "no-such-host"}, "unknown host 'no-such-host'"),
        ("/host/v1/host/create", {"name": "h-y"}, "missing required input(s): subnet"),
    ],
)
def test_bad_host_input_is_refused(sandbox, path, entity, message):
    assert message in one(sandbox, path, code="1", **entity)["errorMessage"]


def test_a_host_name_in_another_subnet_is_refused(sandbox):
    a, b = make_subnet(sandbox), make_subnet(sandbox)
    name = uniq("h")
    host = one(sandbox, "/host/v1/host/create", name=name, subnet=a["name"])
    out = one(sandbox, "/host/v1/host/create", code="1", name=name, subnet=b["name"])
    assert f"host {name} already exists in subnet {a['name']} ({host['ip']}), not in {b['name']}" == out["errorMessage"]
