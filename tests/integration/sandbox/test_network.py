"""The sandbox ``network`` plugin over real HTTP: VPCs, subnets (IPAM), route tables, security
groups, and their CMDB records."""

from __future__ import annotations

import ipaddress
import itertools
import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.integration.sandbox.helpers import one, outputs, query_ci, uniq

pytestmark = pytest.mark.integration

RT = "/network/v1/route-table/create"
SG = "/network/v1/security-group/create"


def make_vpc(sandbox, cidr: str = "10.10.0.0/16", dc: str = "dc-test") -> dict:
    return one(sandbox, "/network/v1/vpc/create", name=uniq("vpc"), cidr=cidr, data_center=dc)


def test_vpc_with_three_subnets_in_one_call_then_rerun_changes_nothing(sandbox):
    dc = uniq("dc")
    vpc = make_vpc(sandbox, dc=dc)
    assert vpc["created"] == "Y" and vpc["cidr"] == "10.10.0.0/16" and vpc["guid"].startswith("ci-")
    names = [uniq(f"sn-{z}") for z in "abc"]
    inputs = [
        {"callbackParameter": f"e{i}", "name": n, "vpc": vpc["name"], "zone": f"zone-{z}", "prefix_length": 24}
        for i, (n, z) in enumerate(zip(names, "abc", strict=False))
    ]
    first = outputs(sandbox.post("/network/v1/subnet/create", inputs, request_id=uniq("req")))
    assert [o["callbackParameter"] for o in first] == ["e0", "e1", "e2"]
    cidrs = [ipaddress.ip_network(o["cidr"]) for o in first]
    assert all(c.prefixlen == 24 and c.subnet_of(ipaddress.ip_network("10.10.0.0/16")) for c in cidrs)
    assert not any(a.overlaps(b) for a, b in itertools.combinations(cidrs, 2))
    assert {o["created"] for o in first} == {"Y"}
    assert {o["vpc_guid"] for o in first} == {vpc["guid"]}
    assert first[0]["gateway"] == str(next(cidrs[0].hosts()))

    # a rerun (new requestId; the VPC by guid this time) finds the same subnets
    rerun = outputs(sandbox.post("/network/v1/subnet/create", [{**e, "vpc": vpc["guid"]} for e in inputs]))
    assert [(o["guid"], o["cidr"], o["created"]) for o in rerun] == [(o["guid"], o["cidr"], "N") for o in first]
    again = one(sandbox, "/network/v1/vpc/create", name=vpc["name"], cidr="10.10.0.0/16", data_center=dc)
    assert again["guid"] == vpc["guid"] and again["created"] == "N"

    # CMDB: data center <- vpc <- subnets, guids shared with the resources
    (dc_ci,) = query_ci(sandbox, "data_center", dc)
    (vpc_ci,) = query_ci(sandbox, "vpc", vpc["name"])
    assert vpc_ci["guid"] == vpc["guid"]
    assert vpc_ci["attributes"]["data_center_guid"] == dc_ci["guid"] == vpc["data_center_guid"]
    for o in first:
        (ci,) = query_ci(sandbox, "subnet", o["name"])
        assert ci["guid"] == o["guid"]
        assert ci["attributes"]["vpc_guid"] == vpc["guid"]
        assert ci["attributes"]["cidr"] == o["cidr"]


def test_overlap_fails_only_that_entity_and_writes_nothing_for_it(sandbox):
    vpc = make_vpc(sandbox, cidr="10.20.0.0/16")
    taken = uniq("taken")
    t = one(sandbox, "/network/v1/subnet/create", name=taken, vpc=vpc["guid"], zone="a", cidr="10.20.0.0/23")
    assert t["cidr"] == "10.20.0.0/23"
    ok1, clash, ok2 = uniq("ok1"), uniq("clash"), uniq("ok2")
    out = outputs(
        sandbox.post(
            "/network/v1/subnet/create",
            [
                {"callbackParameter": "1", "name": ok1, "vpc": vpc["name"], "zone": "a", "prefix_length": 24},
                {"callbackParameter": "2", "name": clash, "vpc": vpc["name"], "zone": "b", "cidr": "10.20.1.0/24"},
                {"callbackParameter": "3", "name": ok2, "vpc": vpc["name"], "zone": "c", "cidr": "10.20.3.0/24"},
            ],
        ),
        code="1",
    )
    assert [o["errorCode"] for o in out] == ["0", "1", "0"]
    assert out[0]["cidr"] == "10.20.2.0/24"  # the lowest free /24 after 10.20.0.0/23
    assert out[2]["cidr"] == "10.20.3.0/24"
    message = out[1]["errorMessage"]
    assert clash in message and taken in message and "10.20.1.0/24" in message and "10.20.0.0/23" in message
    assert query_ci(sandbox, "subnet", clash) == []


def test_exhausted_vpc_is_a_clear_per_entity_error(sandbox):
    vpc = make_vpc(sandbox, cidr="192.168.7.0/28")
    names = [uniq("tiny") for _ in range(3)]
    out = outputs(
        sandbox.post(
            "/network/v1/subnet/create",
            [{"callbackParameter": n, "name": n, "vpc": vpc["name"], "zone": "a", "prefix_length": 29} for n in names],
        ),
        code="1",
    )
    assert [o["cidr"] for o in out[:2]] == ["192.168.7.0/29", "192.168.7.8/29"]
    assert out[2]["errorCode"] == "1"
    expected = f"VPC {vpc['name']} (192.168.7.0/28) is exhausted: cannot allocate subnet {names[2]}"
    assert out[2]["errorMessage"].startswith(expected)
    assert "no free /29 block left" in out[2]["errorMessage"]


def test_concurrent_requests_never_get_overlapping_blocks(sandbox):
    vpc = make_vpc(sandbox, cidr="10.30.0.0/16")

    def create(i: int) -> list[dict]:
        inputs = [
            {"callbackParameter": str(j), "name": uniq(f"c{i}"), "vpc": vpc["guid"], "zone": "a", "prefix_length": p}
            for j, p in enumerate((24, 26))
        ]
        return outputs(sandbox.post("/network/v1/subnet/create", inputs))

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = [o for batch in pool.map(create, range(12)) for o in batch]
    cidrs = [ipaddress.ip_network(o["cidr"]) for o in results]
    assert len(cidrs) == 24
    clashes = [(a, b) for a, b in itertools.combinations(cidrs, 2) if a.overlaps(b)]
    assert clashes == []


@pytest.mark.parametrize(
    ("entity", "message"),
    [
        ({"vpc": "no-such-vpc", "prefix_length": 24}, "unknown VPC 'no-such-vpc'"),
        ({"cidr": "10.99.0.0/24"}, "is not inside"),
        ({"cidr": "10.40.0.5/24"}, "has host bits set; did you mean 10.40.0.0/24?"),
        ({"prefix_length": 12}, "must be a /16 to /29 block, got /12"),
        ({"prefix_length": "x"}, "input prefix_length must be an integer"),
        ({}, "give prefix_length"),
        ({"cidr": "10.40.1.0/24", "prefix_length": 25}, "is a /24 but prefix_length says /25"),
        ({"name": "bad name!", "prefix_length": 24}, "input name must be 1-63 letters"),
    ],
)
def test_bad_subnet_input_is_refused(sandbox, entity, message):
    vpc = make_vpc(sandbox, cidr="10.40.0.0/16")
    name = uniq("bad")
    base = {"callbackParameter": "x", "name": name, "vpc": vpc["name"], "zone": "a"}
    (out,) = outputs(sandbox.post("/network/v1/subnet/create", [{**base, **entity}]), code="1")
    assert message in out["errorMessage"]
    assert query_ci(sandbox, "subnet", name) == []


def test_a_name_reused_with_another_spec_is_refused(sandbox):
    vpc = make_vpc(sandbox, cidr="10.50.0.0/16")
    other = make_vpc(sandbox, cidr="10.51.0.0/16")
    name = uniq("sn")
    base = {"callbackParameter": "x", "name": name, "vpc": vpc["name"], "zone": "a"}
    (first,) = outputs(sandbox.post("/network/v1/subnet/create", [{**base, "prefix_length": 24}]))
    for change, message in [
        ({"prefix_length": 25}, f"subnet {name} already exists as a /24 (10.50.0.0/24), not a /25"),
        ({"cidr": "10.50.9.0/24"}, f"subnet {name} already exists with cidr 10.50.0.0/24, not 10.50.9.0/24"),
        ({"prefix_length": 24, "zone": "b"}, f"subnet {name} already exists in zone a, not b"),
        ({"prefix_length": 24, "vpc": other["name"]}, f"already exists in VPC {vpc['name']} (10.50.0.0/24)"),
    ]:
        (out,) = outputs(sandbox.post("/network/v1/subnet/create", [{**base, **change}]), code="1")
        assert message in out["errorMessage"]
    moved = one(sandbox, "/network/v1/vpc/create", "1", name=vpc["name"], cidr="10.60.0.0/16", data_center="dc-test")
    assert "already exists with cidr 10.50.0.0/16" in moved["errorMessage"]
    huge = one(sandbox, "/network/v1/vpc/create", "1", name=uniq("v"), cidr="16.0.0.0/4", data_center="dc-test")
    assert "a VPC cidr must be a /8 to /28 block" in huge["errorMessage"]


def test_route_tables_and_security_groups_converge(sandbox):
    vpc = make_vpc(sandbox, cidr="10.70.0.0/16")
    rt, sg = uniq("rt"), uniq("sg")
    routes = [{"destination": "0.0.0.0/0", "target": "internet"}, {"destination": "10.70.0.0/16", "target": "local"}]
    rules = [
        {"direction": "ingress", "protocol": "tcp", "port_range": "443", "cidr": "0.0.0.0/0"},
        {"direction": "ingress", "protocol": "tcp", "port_range": "20000-20009", "cidr": "10.70.0.0/16"},
        {"direction": "egress", "protocol": "all", "port_range": "", "cidr": "0.0.0.0/0"},
    ]
    r1 = one(sandbox, RT, name=rt, vpc=vpc["name"], routes=routes)
    s1 = one(sandbox, SG, name=sg, vpc=vpc["guid"], rules=rules)
    assert (r1["created"], r1["updated"], r1["routes"]) == ("Y", "N", routes)
    assert s1["created"] == "Y" and [r["port_range"] for r in s1["rules"]] == ["443", "20000-20009", "all"]

    # the same design again (rules as a JSON string, as WeCube may send them): nothing changes
    r2 = one(sandbox, RT, name=rt, vpc=vpc["name"], routes=json.dumps(routes))
    s2 = one(sandbox, SG, name=sg, vpc=vpc["name"], rules=rules)
    assert (r2["guid"], r2["created"], r2["updated"]) == (r1["guid"], "N", "N")
    assert (s2["guid"], s2["created"], s2["updated"]) == (s1["guid"], "N", "N")

    # a bad rule is refused and changes nothing
    bad = [*rules, {"direction": "ingress", "protocol": "tcp", "port_range": "99999", "cidr": "0.0.0.0/0"}]
    s3 = one(sandbox, SG, "1", name=sg, vpc=vpc["name"], rules=bad)
    assert "rule #3: port_range 99999 must lie within 1-65535" in s3["errorMessage"]
    (ci,) = query_ci(sandbox, "security_group", sg)
    assert ci["guid"] == s1["guid"] and len(ci["attributes"]["rules"]) == 3
    assert ci["attributes"]["vpc_guid"] == vpc["guid"]

    # another design: the rules are replaced, the guid stays
    s4 = one(sandbox, SG, name=sg, vpc=vpc["name"], rules=rules[:1])
    assert (s4["guid"], s4["created"], s4["updated"]) == (s1["guid"], "N", "Y")
    (ci,) = query_ci(sandbox, "security_group", sg)
    assert ci["attributes"]["rules"] == s4["rules"]
    (rt_ci,) = query_ci(sandbox, "route_table", rt)
    assert rt_ci["guid"] == r1["guid"] and rt_ci["attributes"]["routes"] == routes
