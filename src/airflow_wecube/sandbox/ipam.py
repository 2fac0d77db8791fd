"""IPAM: plain :mod:`ipaddress` arithmetic for the sandbox's networks (no I/O, no framework).

:func:`allocate` gives the lowest free block of a size, :func:`check_free` admits an explicit one,
:func:`next_address` places a host; blocks never overlap and lie inside their container. The
``network`` and ``host`` plugins run these inside one database transaction each, so concurrent
requests never get overlapping blocks.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class IpamError(ValueError):
    """An address request that cannot be met; the message says why, for the user."""


def parse_network(value: str, what: str = "cidr") -> Network:
    """A CIDR block such as ``10.10.0.0/16``; host bits set or garbage is refused with a hint."""
    raw = str(value).strip()
    if "/" not in raw:
        raise IpamError(f"{what} {raw!r} is not a CIDR block such as 10.10.0.0/16 (the /prefix is missing)")
    try:
        return ipaddress.ip_network(raw, strict=True)
    except ValueError:
        pass
    try:
        loose = ipaddress.ip_network(raw, strict=False)
    except ValueError:
        raise IpamError(f"{what} {raw!r} is not a CIDR block such as 10.10.0.0/16") from None
    raise IpamError(f"{what} {raw} has host bits set; did you mean {loose}?")


def free_blocks(container: Network, used: Iterable[Network]) -> list[Network]:
    """The parts of ``container`` no block of ``used`` covers, as aligned CIDR blocks, lowest first."""
    free = [container]
    for block in used:
        if block.version != container.version or not block.overlaps(container):
            continue
        remaining: list[Network] = []
        for part in free:
            if not part.overlaps(block):
                remaining.append(part)
            elif block.subnet_of(part) and block != part:
                remaining.extend(part.address_exclude(block))
            # else: part lies inside block, so it is used up
        free = remaining
    return sorted(free)


def allocate(container: Network, used: Iterable[Network], prefix: int) -> Network:
    """The lowest free ``/prefix`` block of ``container`` that overlaps none of ``used``.

    :raises IpamError: when the prefix does not fit the container, or no such block is left
    """
    if not container.prefixlen <= prefix <= container.max_prefixlen:
        raise IpamError(f"prefix length /{prefix} does not fit inside {container}")
    free = free_blocks(container, list(used))
    for block in free:
        if block.prefixlen <= prefix:
            return next(block.subnets(new_prefix=prefix))
    largest = min((b.prefixlen for b in free), default=None)
    left = f"the largest free block is a /{largest}" if largest is not None else "no address is free"
    raise IpamError(f"no free /{prefix} block left in {container} ({left})")


def check_free(container: Network, used: Mapping[str, Network], cidr: Network) -> None:
    """Refuse ``cidr`` unless it lies inside ``container`` and overlaps none of ``used`` (name -> block)."""
    if cidr.version != container.version or not cidr.subnet_of(container):
        raise IpamError(f"cidr {cidr} is not inside {container}")
    for name, block in sorted(used.items(), key=lambda kv: kv[1]):
        if block.overlaps(cidr):
            raise IpamError(f"cidr {cidr} overlaps subnet {name} ({block})")


def next_address(subnet: Network, used: Iterable[Address]) -> Address:
    """The lowest free host address of ``subnet``; the first host address is kept for the gateway."""
    taken = set(used)
    hosts = subnet.hosts()
    next(hosts, None)  # the gateway
    for address in hosts:
        if address not in taken:
            return address
    raise IpamError(f"subnet {subnet} has no free address left")
