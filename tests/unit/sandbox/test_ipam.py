"""IPAM of the sandbox (:mod:`airflow_wecube.sandbox.ipam`): pure :mod:`ipaddress` arithmetic."""

from __future__ import annotations

import ipaddress
import itertools
import random

import pytest

from airflow_wecube.sandbox.ipam import IpamError, allocate, check_free, free_blocks, next_address, parse_network

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
