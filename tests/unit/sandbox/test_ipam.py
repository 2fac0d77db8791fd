"""IPAM of the sandbox network plugin: pure :mod:`ipaddress` arithmetic, and the rule/route checks."""

from __future__ import annotations

import ipaddress
import itertools
import random

import pytest

from airflow_wecube.sandbox.plugin import EntityError
from airflow_wecube.sandbox.plugins.network import (
    IpamError,
    allocate,
    check_free,
    free_blocks,
    next_address,
    parse_network,
    validate_routes,
    validate_rules,
)

net = ipaddress.ip_network
VPC = net("10.10.0.0/16")


def test_allocations_fill_the_vpc_in_order_without_overlap():
    used = []
    for _ in range(5):
        used.append(allocate(VPC, used, 24))
    assert [str(n) for n in used] == [f"10.10.{i}.0/24" for i in range(5)]


def test_mixed_sizes_never_overlap_and_fill_the_container():
    rng = random.Random(7)
    container = net("172.16.0.0/20")
    used: list = []
    sizes = [22, 24, 25, 26, 28]
    while sizes:
        prefix = rng.choice(sizes)
        try:
            used.append(allocate(container, used, prefix))
        except IpamError:
            sizes.remove(prefix)  # this size no longer fits; smaller ones may
    assert len(used) > 5
    for a, b in itertools.combinations(used, 2):
        assert not a.overlaps(b), (a, b)
    assert all(n.subnet_of(container) for n in used)
    # every size is a multiple of the smallest, so nothing is wasted: the container is full
    assert sum(n.num_addresses for n in used) == container.num_addresses
    assert free_blocks(container, used) == []


def test_a_gap_is_reused_and_alignment_kept():
    used = [net("10.10.0.0/24"), net("10.10.2.0/24")]
    assert allocate(VPC, used, 24) == net("10.10.1.0/24")
    assert allocate(VPC, used, 23) == net("10.10.4.0/23")  # 10.10.2.0/23 is half used
    assert allocate(VPC, used, 26) == net("10.10.1.0/26")


def test_exhaustion_is_a_clear_error():
    small = net("10.0.0.0/28")
    used = [allocate(small, [], 29)]
    used.append(allocate(small, used, 29))
    with pytest.raises(IpamError, match=r"no free /29 block left in 10.0.0.0/28 \(no address is free\)"):
        allocate(small, used, 29)
    partly = [net("10.0.0.0/29")]
    with pytest.raises(IpamError, match=r"no free /28 block left in 10.0.0.0/28 \(the largest free block is a /29\)"):
        allocate(small, partly, 28)


def test_a_prefix_that_does_not_fit_is_refused():
    with pytest.raises(IpamError, match="/8 does not fit inside 10.10.0.0/16"):
        allocate(VPC, [], 8)


def test_explicit_cidr_overlap_names_the_other_subnet():
    used = {"web-a": net("10.10.0.0/23"), "db-a": net("10.10.8.0/24")}
    check_free(VPC, used, net("10.10.2.0/24"))  # free: no error
    with pytest.raises(IpamError, match=r"cidr 10.10.1.0/24 overlaps subnet web-a \(10.10.0.0/23\)"):
        check_free(VPC, used, net("10.10.1.0/24"))
    with pytest.raises(IpamError, match=r"cidr 10.10.8.0/22 overlaps subnet db-a \(10.10.8.0/24\)"):
        check_free(VPC, used, net("10.10.8.0/22"))
    with pytest.raises(IpamError, match="cidr 10.11.0.0/24 is not inside 10.10.0.0/16"):
        check_free(VPC, used, net("10.11.0.0/24"))


def test_parse_network_explains_bad_cidrs():
    assert parse_network(" 10.1.0.0/16 ") == net("10.1.0.0/16")
    with pytest.raises(IpamError, match=r"10.1.2.3/16 has host bits set; did you mean 10.1.0.0/16\?"):
        parse_network("10.1.2.3/16")
    with pytest.raises(IpamError, match="the /prefix is missing"):
        parse_network("10.1.0.0")
    with pytest.raises(IpamError, match="'10.300.0.0/16' is not a CIDR block"):
        parse_network("10.300.0.0/16")


def test_next_address_skips_the_gateway_and_used_addresses():
    subnet = net("10.10.1.0/29")  # hosts .1-.6, .1 is the gateway
    used = []
    for _ in range(5):
        used.append(next_address(subnet, used))
    assert [str(a) for a in used] == [f"10.10.1.{i}" for i in range(2, 7)]
    with pytest.raises(IpamError, match="subnet 10.10.1.0/29 has no free address left"):
        next_address(subnet, used)
    assert next_address(subnet, used[1:]) == ipaddress.ip_address("10.10.1.2")


def test_routes_are_validated_and_normalised():
    given = [{"destination": "0.0.0.0/0", "target": "internet"}, {"destination": " 10.20.0.0/16", "target": "peer "}]
    assert validate_routes(given) == [
        {"destination": "0.0.0.0/0", "target": "internet"},
        {"destination": "10.20.0.0/16", "target": "peer"},
    ]
    for bad, message in [
        ([{"destination": "10.0.0.1/8", "target": "x"}], "route #0: destination 10.0.0.1/8 has host bits set"),
        ([{"destination": "0.0.0.0/0"}], "route #0: target must not be blank"),
        (["0.0.0.0/0"], "route #0 must be an object"),
        ([{"destination": "0.0.0.0/0", "target": "a"}, {"destination": "0.0.0.0/0", "target": "b"}],
         "route #1: destination 0.0.0.0/0 is already routed by route #0"),
        ([{"destination": "0.0.0.0/0", "target": "a", "via": "b"}], "route #0 has unknown field"),
    ]:
        with pytest.raises(EntityError, match=message):
            validate_routes(bad)


def test_security_rules_are_validated_and_normalised():
    rules = validate_rules(
        [
            {"direction": "Ingress", "protocol": "TCP", "port_range": "443", "cidr": "0.0.0.0/0"},
            {"direction": "ingress", "protocol": "tcp", "port_range": "8000-8080", "cidr": "10.10.0.0/16"},
            {"direction": "egress", "protocol": "all", "cidr": "0.0.0.0/0"},
            {"direction": "ingress", "protocol": "udp", "port_range": "all", "cidr": "10.0.0.0/8"},
        ]
    )
    assert [(r["direction"], r["protocol"], r["port_range"]) for r in rules] == [
        ("ingress", "tcp", "443"),
        ("ingress", "tcp", "8000-8080"),
        ("egress", "all", "all"),
        ("ingress", "udp", "1-65535"),
    ]
    ok = {"direction": "ingress", "protocol": "tcp", "port_range": "22", "cidr": "10.0.0.0/8"}
    for change, message in [
        ({"direction": "inbound"}, "rule #0: direction must be ingress or egress"),
        ({"protocol": "sctp"}, "rule #0: protocol must be one of tcp, udp, icmp, all"),
        ({"port_range": "0"}, "rule #0: port_range 0 must lie within 1-65535"),
        ({"port_range": "9000-8000"}, "rule #0: port_range 9000-8000 must lie within 1-65535 with the low port first"),
        ({"port_range": "70000"}, "rule #0: port_range 70000 must lie within"),
        ({"port_range": "ssh"}, "rule #0: port_range must be a port such as 443"),
        ({"protocol": "icmp"}, "rule #0: protocol icmp takes no port_range"),
        ({"cidr": "10.0.0.0"}, "rule #0: cidr '10.0.0.0' is not a CIDR block"),
    ]:
        with pytest.raises(EntityError, match=message):
            validate_rules([{**ok, **change}])
    with pytest.raises(EntityError, match="rule #1 repeats rule #0"):
        validate_rules([ok, dict(ok)])
