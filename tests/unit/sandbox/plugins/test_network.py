"""The network plugin's checks of route tables and security group rules (pure, no server)."""

from __future__ import annotations

import pytest

from airflow_wecube.sandbox.plugin import EntityError
from airflow_wecube.sandbox.plugins.network import validate_routes, validate_rules


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
        (
            [{"destination": "0.0.0.0/0", "target": "a"}, {"destination": "0.0.0.0/0", "target": "b"}],
            "route #1: destination 0.0.0.0/0 is already routed by route #0",
        ),
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
