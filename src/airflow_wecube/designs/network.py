"""The network design of ``wecube_network_build``: its shape, its checks, the plugin inputs it
turns into, and the check of the topology read back from the CMDB.

Pure (no Airflow): the DAG checks a design in its first task, before any plugin is called, and
``wecube_app_rollout`` names its default subnet the same way (:func:`subnet_name`).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
#: the keys a design may have
DESIGN_KEYS = frozenset({"data_center", "vpc", "zones", "subnets", "route_tables", "security_groups"})
#: the subnet name used when the design cannot be read (the one of the shipped design)
FALLBACK_SUBNET = "vpc-sz-prod-web-sz-a"
#: the CI kinds the topology is read back from
TOPOLOGY_KINDS = ("data_center", "vpc", "subnet", "route_table", "security_group")

_NAME = {"type": "string", "pattern": NAME_RE.pattern}
_NAMED_LIST = {"type": "array", "items": {"type": "object", "required": ["name"], "properties": {"name": _NAME}}}
#: the design's shape, checked by Airflow when the run is triggered (plan_design checks the rest)
DESIGN_SCHEMA: dict[str, Any] = {
    "required": ["data_center", "vpc", "zones", "subnets"],
    "additionalProperties": False,
    "properties": {
        "data_center": _NAME,
        "vpc": {
            "type": "object",
            "required": ["name", "cidr"],
            "additionalProperties": False,
            "properties": {"name": _NAME, "cidr": {"type": "string", "minLength": 1}},
        },
        "zones": {"type": "array", "minItems": 1, "items": _NAME},
        "subnets": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["tier", "prefix_length"],
                "additionalProperties": False,
                "properties": {"tier": _NAME, "prefix_length": {"type": "integer"}},
            },
        },
        "route_tables": _NAMED_LIST,
        "security_groups": _NAMED_LIST,
    },
}


class DesignError(ValueError):
    """The design is not usable; the message says where and why. Nothing was created."""


def load_design(path: Path | str) -> dict[str, Any]:
    """A design file (one small YAML file: cheap enough to read at parse time)."""
    import yaml

    with open(path, encoding="utf-8") as f:
        design = yaml.safe_load(f)
    if not isinstance(design, dict):
        raise ValueError(f"{path} must hold a mapping (data_center, vpc, zones, subnets, ...)")
    return design


def subnet_name(vpc: str, tier: str, zone: str) -> str:
    """The name of a tier's subnet in a zone: ``<vpc>-<tier>-<zone>``."""
    return f"{vpc}-{tier}-{zone}"


def default_subnet(path: Path | str, fallback: str = FALLBACK_SUBNET) -> str:
    """The first subnet of the design in ``path`` (first tier, first zone); ``fallback`` when the
    file is missing or not a design (a DAG reading it at parse time must still parse)."""
    import yaml

    try:
        design = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        return subnet_name(design["vpc"]["name"], design["subnets"][0]["tier"], design["zones"][0])
    except (OSError, KeyError, IndexError, TypeError, yaml.YAMLError):
        return fallback


def _name(value: Any, where: str) -> str:
    if not isinstance(value, str) or not NAME_RE.match(value):
        raise DesignError(f"{where} must be 1-63 letters, digits, '.', '_' or '-', got {value!r}")
    return value


def _list(design: dict, key: str, required: bool = True) -> list:
    value = design.get(key)
    if value is None and not required:
        return []
    if not isinstance(value, list) or (required and not value):
        raise DesignError(f"design.{key} must be a non-empty list, got {value!r}")
    return value


def plan_design(design: Any) -> dict[str, Any]:
    """Check a design and turn it into plugin inputs (``callbackParameter`` = the item's name).

    :raises DesignError: on the first problem, naming the field
    """
    if not isinstance(design, dict):
        raise DesignError(f"the design must be a mapping, got {type(design).__name__}")
    unknown = set(design) - DESIGN_KEYS
    if unknown:
        raise DesignError(f"design has unknown key(s): {', '.join(sorted(unknown))}")
    data_center = _name(design.get("data_center"), "design.data_center")
    vpc = design.get("vpc")
    if not isinstance(vpc, dict):
        raise DesignError("design.vpc must be a mapping with name and cidr")
    vpc_name = _name(vpc.get("name"), "design.vpc.name")
    try:
        vpc_cidr = ipaddress.ip_network(str(vpc.get("cidr")), strict=True)
    except ValueError as e:
        raise DesignError(f"design.vpc.cidr: {e}") from None
    zones = [_name(z, f"design.zones[{i}]") for i, z in enumerate(_list(design, "zones"))]
    if len(set(zones)) != len(zones):
        raise DesignError(f"design.zones repeats a zone: {zones}")

    by_zone: dict[str, list[dict[str, Any]]] = {z: [] for z in zones}
    tiers = set()
    for i, tier in enumerate(_list(design, "subnets")):
        if not isinstance(tier, dict):
            raise DesignError(f"design.subnets[{i}] must be a mapping with tier and prefix_length")
        name = _name(tier.get("tier"), f"design.subnets[{i}].tier")
        if name in tiers:
            raise DesignError(f"design.subnets[{i}]: tier {name} appears twice")
        tiers.add(name)
        prefix = tier.get("prefix_length")
        longest = 29 if vpc_cidr.version == 4 else 124
        if not isinstance(prefix, int) or isinstance(prefix, bool) or not vpc_cidr.prefixlen <= prefix <= longest:
            raise DesignError(
                f"design.subnets[{i}].prefix_length must be an integer from {vpc_cidr.prefixlen} to {longest},"
                f" got {prefix!r}"
            )
        for zone in zones:
            subnet = _name(subnet_name(vpc_name, name, zone), f"subnet name of tier {name} in zone {zone}")
            by_zone[zone].append(
                {"callbackParameter": subnet, "name": subnet, "vpc": vpc_name, "zone": zone, "prefix_length": prefix}
            )
    wanted = sum(2 ** (vpc_cidr.max_prefixlen - e["prefix_length"]) for z in by_zone.values() for e in z)
    if wanted > vpc_cidr.num_addresses:
        raise DesignError(
            f"the subnets need {wanted} addresses but VPC {vpc_name} ({vpc_cidr}) has {vpc_cidr.num_addresses}"
        )

    def named_items(key: str, field: str) -> list[dict[str, Any]]:
        items, seen = [], set()
        for i, item in enumerate(_list(design, key, required=False)):
            if not isinstance(item, dict):
                raise DesignError(f"design.{key}[{i}] must be a mapping with name and {field}")
            name = _name(item.get("name"), f"design.{key}[{i}].name")
            if name in seen:
                raise DesignError(f"design.{key}[{i}]: {name} appears twice")
            seen.add(name)
            value = item.get(field) or []
            if not isinstance(value, list):
                raise DesignError(f"design.{key}[{i}].{field} must be a list")
            items.append({"callbackParameter": name, "name": name, "vpc": vpc_name, field: value})
        return items

    return {
        "vpc": {"callbackParameter": vpc_name, "name": vpc_name, "cidr": str(vpc_cidr), "data_center": data_center},
        "subnets_by_zone": [by_zone[z] for z in zones],
        "route_tables": named_items("route_tables", "routes"),
        "security_groups": named_items("security_groups", "rules"),
    }


# -- the built topology, read back from the CMDB ------------------------------------------------


def overlaps(subnets: Sequence[Mapping[str, Any]]) -> list[str]:
    """Pairs of subnets whose CIDR blocks overlap, as readable strings (sorted scan, O(n log n))."""
    blocks = sorted((ipaddress.ip_network(s["cidr"]), s["name"]) for s in subnets)
    found = []
    reach: tuple[Any, str] | None = None  # the block reaching furthest so far
    for net, name in blocks:
        if reach is not None and reach[0].version == net.version and net.network_address <= reach[0].broadcast_address:
            found.append(f"{reach[1]} ({reach[0]}) overlaps {name} ({net})")
        if reach is None or reach[0].version != net.version or net.broadcast_address > reach[0].broadcast_address:
            reach = (net, name)
    return found


def flatten(values: Any) -> list[dict[str, Any]]:
    """The dicts of nested lists (a mapped task's outputs: one list per map index), in order."""
    out: list[dict[str, Any]] = []
    for v in values or []:
        if isinstance(v, dict):
            out.append(v)
        else:
            out.extend(flatten(v))
    return out


def topology_query(vpc_out: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The ``cmdb/ci/query`` inputs reading back every kind of the VPC's topology."""
    query: list[dict[str, Any]] = [{"callbackParameter": k, "type": k} for k in TOPOLOGY_KINDS]
    query[0]["name"] = vpc_out["data_center"]
    query[1]["guid"] = vpc_out["guid"]
    return query


def check_topology(
    vpc_out: Mapping[str, Any],
    subnet_outs: Sequence[Mapping[str, Any]],
    route_table_outs: Sequence[Mapping[str, Any]],
    security_group_outs: Sequence[Mapping[str, Any]],
    items: Mapping[str, list[dict[str, Any]]],
) -> dict[str, Any]:
    """The topology summary, from the create outputs and the CIs read back (``items`` by kind).

    :raises ValueError: listing every way the CMDB differs from what was built (a CI missing,
        a subnet outside the VPC, two subnets overlapping)
    """
    results = [vpc_out, *subnet_outs, *route_table_outs, *security_group_outs]
    created = sum(o.get("created") == "Y" for o in results)
    updated = sum(o.get("updated") == "Y" for o in results)
    vpc_guid = vpc_out["guid"]

    problems: list[str] = []
    if len(items["data_center"]) != 1:
        problems.append(f"data center {vpc_out['data_center']} is not in the CMDB")
    if len(items["vpc"]) != 1:
        problems.append(f"VPC {vpc_out['name']} ({vpc_guid}) is not in the CMDB")
    vpc_cidr = ipaddress.ip_network(vpc_out["cidr"])

    def of_vpc(kind: str) -> list[dict[str, Any]]:
        return [ci for ci in items[kind] if ci["attributes"].get("vpc_guid") == vpc_guid]

    subnet_cis = [
        {"guid": ci["guid"], "name": ci["name"], "cidr": ci["attributes"]["cidr"], "zone": ci["attributes"].get("zone")}
        for ci in of_vpc("subnet")
    ]
    for s in subnet_cis:
        if not ipaddress.ip_network(s["cidr"]).subnet_of(vpc_cidr):
            problems.append(f"subnet {s['name']} ({s['cidr']}) is not inside VPC {vpc_out['name']} ({vpc_cidr})")
    problems += overlaps(subnet_cis)
    recorded = {ci["name"]: ci["guid"] for kind in ("subnet", "route_table", "security_group") for ci in of_vpc(kind)}
    for o in [*subnet_outs, *route_table_outs, *security_group_outs]:
        if recorded.get(o["name"]) != o["guid"]:
            problems.append(f"{o['name']} ({o['guid']}) is not recorded in the CMDB under VPC {vpc_out['name']}")
    if problems:
        raise ValueError("the network in the CMDB is not what was built:\n  - " + "\n  - ".join(problems))

    def brief(kind: str, field: str) -> list[dict[str, Any]]:
        return [{"guid": ci["guid"], "name": ci["name"], field: ci["attributes"].get(field)} for ci in of_vpc(kind)]

    return {
        "data_center": {"guid": items["data_center"][0]["guid"], "name": vpc_out["data_center"]},
        "vpc": {"guid": vpc_guid, "name": vpc_out["name"], "cidr": vpc_out["cidr"]},
        "subnets": sorted(subnet_cis, key=lambda s: ipaddress.ip_network(s["cidr"])),
        "route_tables": brief("route_table", "routes"),
        "security_groups": brief("security_group", "rules"),
        "created": created,
        "updated": updated,
        "unchanged": len(results) - created - updated,
    }


def describe_topology(summary: Mapping[str, Any]) -> list[str]:
    """The lines the final task prints: the totals, then one line per subnet."""
    vpc = summary["vpc"]
    lines = [
        f"VPC {vpc['name']} ({ipaddress.ip_network(vpc['cidr'])}) in {summary['data_center']['name']}: "
        f"{len(summary['subnets'])} subnets, {len(summary['route_tables'])} route tables, "
        f"{len(summary['security_groups'])} security groups; this run created {summary['created']}, "
        f"updated {summary['updated']}, left {summary['unchanged']} unchanged"
    ]
    lines += [f"  {s['cidr']:<18} {s['zone']:<8} {s['name']}" for s in summary["subnets"]]
    return lines


__all__ = [
    "DESIGN_SCHEMA",
    "DesignError",
    "check_topology",
    "default_subnet",
    "describe_topology",
    "flatten",
    "load_design",
    "overlaps",
    "plan_design",
    "subnet_name",
    "topology_query",
]
