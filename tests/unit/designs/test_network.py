"""airflow_wecube.designs.network: the design checks name the field at fault, the topology check
lists every way the CMDB differs from what was built."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest

from airflow_wecube.designs.network import (
    DesignError,
    check_topology,
    default_subnet,
    describe_topology,
    flatten,
    load_design,
    overlaps,
    plan_design,
    subnet_name,
    topology_query,
)

DESIGN_FILE = Path(__file__).resolve().parents[3] / "dags" / "designs" / "network.yml"


def _design(prefix: str = "unit") -> dict:
    design = load_design(DESIGN_FILE)
    design["data_center"] = f"{prefix}-dc"
    design["vpc"]["name"] = f"{prefix}-vpc"
    return design


def test_plan_turns_the_design_into_plugin_inputs():
    good = _design()
    planned = plan_design(good)
    assert len(planned["subnets_by_zone"]) == len(good["zones"])
    first = planned["subnets_by_zone"][0][0]
    assert first["name"] == subnet_name("unit-vpc", good["subnets"][0]["tier"], good["zones"][0])
    assert first["callbackParameter"] == first["name"] and first["zone"] == good["zones"][0]
    assert planned["vpc"] == {
        "callbackParameter": "unit-vpc",
        "name": "unit-vpc",
        "cidr": good["vpc"]["cidr"],
        "data_center": "unit-dc",
    }
    assert [r["name"] for r in planned["security_groups"]] == [g["name"] for g in good["security_groups"]]


@pytest.mark.parametrize(
    ("message", "change"),
    [
        ("design.vpc.cidr", lambda d: d["vpc"].__setitem__("cidr", "10.20.0.1/16")),
        ("design.zones repeats", lambda d: d.__setitem__("zones", ["a", "a"])),
        ("tier web appears twice", lambda d: d["subnets"].append({"tier": "web", "prefix_length": 24})),
        ("unknown key", lambda d: d.__setitem__("vpcs", [])),
        ("design.security_groups[0].name", lambda d: d["security_groups"][0].__setitem__("name", "bad name")),
        ("need", lambda d: d["subnets"].__setitem__(0, {"tier": "web", "prefix_length": 17})),
        (
            "design.subnets[1].prefix_length must be an integer",
            lambda d: d["subnets"][1].__setitem__("prefix_length", 8),
        ),
    ],
)
def test_design_checks_name_the_field_at_fault(message, change):
    d = copy.deepcopy(_design())
    change(d)
    with pytest.raises(DesignError, match=re.escape(message)):
        plan_design(d)


def test_a_design_that_is_not_a_mapping_is_refused():
    with pytest.raises(DesignError, match="the design must be a mapping, got list"):
        plan_design(["vpc"])


def test_load_design_refuses_a_file_without_a_mapping(tmp_path):
    path = tmp_path / "net.yml"
    path.write_text("- just\n- a list\n")
    with pytest.raises(ValueError, match="must hold a mapping"):
        load_design(path)


def test_default_subnet_is_the_first_subnet_of_the_design_or_the_fallback(tmp_path):
    design = load_design(DESIGN_FILE)
    assert default_subnet(DESIGN_FILE) == f"{design['vpc']['name']}-{design['subnets'][0]['tier']}-{design['zones'][0]}"
    assert default_subnet(tmp_path / "missing.yml") == "vpc-sz-prod-web-sz-a"
    (tmp_path / "broken.yml").write_text("vpc: [unclosed\n")
    assert default_subnet(tmp_path / "broken.yml", fallback="x") == "x"


def test_overlaps_and_flatten():
    assert overlaps(
        [
            {"name": "a", "cidr": "10.0.0.0/24"},
            {"name": "b", "cidr": "10.0.0.128/25"},
            {"name": "c", "cidr": "10.0.1.0/24"},
        ]
    ) == ["a (10.0.0.0/24) overlaps b (10.0.0.128/25)"]
    assert flatten([[{"a": 1}], [{"b": 2}, [{"c": 3}]], None]) == [{"a": 1}, {"b": 2}, {"c": 3}]
    assert flatten(None) == []


VPC_OUT = {"guid": "v1", "name": "vpc", "cidr": "10.0.0.0/16", "data_center": "dc", "created": "Y"}


def _ci(guid: str, name: str, **attributes) -> dict:
    return {"guid": guid, "name": name, "attributes": {"vpc_guid": "v1", **attributes}}


def _items(*subnets: dict) -> dict:
    return {
        "data_center": [{"guid": "d1", "name": "dc", "attributes": {}}],
        "vpc": [{"guid": "v1", "name": "vpc", "attributes": {}}],
        "subnet": list(subnets),
        "route_table": [_ci("r1", "rt", routes=[])],
        "security_group": [],
    }


def test_topology_summary_counts_what_this_run_changed():
    assert [q["type"] for q in topology_query(VPC_OUT)] == [
        "data_center",
        "vpc",
        "subnet",
        "route_table",
        "security_group",
    ]
    assert topology_query(VPC_OUT)[1]["guid"] == "v1" and topology_query(VPC_OUT)[0]["name"] == "dc"
    subnets = [{"guid": "s2", "name": "b", "created": "N"}, {"guid": "s1", "name": "a", "updated": "Y"}]
    items = _items(_ci("s2", "b", cidr="10.0.1.0/24", zone="z2"), _ci("s1", "a", cidr="10.0.0.0/24", zone="z1"))
    summary = check_topology(VPC_OUT, subnets, [{"guid": "r1", "name": "rt"}], [], items)
    assert [s["name"] for s in summary["subnets"]] == ["a", "b"]  # by address
    assert (summary["created"], summary["updated"], summary["unchanged"]) == (1, 1, 2)
    assert summary["route_tables"] == [{"guid": "r1", "name": "rt", "routes": []}]
    lines = describe_topology(summary)
    assert lines[0] == (
        "VPC vpc (10.0.0.0/16) in dc: 2 subnets, 1 route tables, 0 security groups; "
        "this run created 1, updated 1, left 2 unchanged"
    )
    assert lines[1].split() == ["10.0.0.0/24", "z1", "a"]


def test_topology_check_lists_every_difference():
    subnets = [{"guid": "s1", "name": "a"}, {"guid": "s9", "name": "lost"}]
    items = _items(
        _ci("s1", "a", cidr="10.1.0.0/24"), _ci("s2", "b", cidr="10.0.0.0/24"), _ci("s3", "c", cidr="10.0.0.128/25")
    )
    items["data_center"] = []
    with pytest.raises(ValueError, match="the network in the CMDB is not what was built") as e:
        check_topology(VPC_OUT, subnets, [], [], items)
    text = str(e.value)
    assert "data center dc is not in the CMDB" in text
    assert "subnet a (10.1.0.0/24) is not inside VPC vpc (10.0.0.0/16)" in text
    assert "b (10.0.0.0/24) overlaps c (10.0.0.128/25)" in text
    assert "lost (s9) is not recorded in the CMDB under VPC vpc" in text
