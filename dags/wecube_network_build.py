"""Build a data-center network from a design: VPC → subnets per zone → route tables → security groups.

The design (``params.design``; default: ``designs/network.yml`` beside this file) names a data
center, one VPC with its address space, the availability zones, subnet tiers (one subnet of each
tier per zone, named ``<vpc>-<tier>-<zone>``), route tables and security groups with their rules.
The sandbox ``network`` plugins allocate the subnets with real IPAM (the lowest free block inside
the VPC, never overlapping) and record every item as a CMDB CI.

Every create is idempotent on the item's name, so a rerun of the same design changes nothing: the
same guids come back and the final task reports ``created: 0, updated: 0``. The final task reads
the topology back from the CMDB, checks every subnet lies inside the VPC and that no two overlap,
and returns it (XCom ``return_value``).

The design's shape (required keys, names, no unknown key) is checked when the run is triggered
(Airflow refuses it with the failing field); ``plan`` checks the rest (CIDRs, prefix lengths,
repeats) and refuses unknown conf keys, before any plugin is called.

Needs the sandbox plugins registered and the ``wecube_default`` connection (``make demo`` does both).
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Any

import pendulum
import yaml

from airflow.sdk import DAG, Param, task
from airflow_wecube.operators.plugin import WeCubePluginOperator

DESIGN_FILE = Path(__file__).parent / "designs" / "network.yml"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
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


def load_default_design() -> dict[str, Any]:
    """The default design, read at parse time (one small YAML file: cheap)."""
    with open(DESIGN_FILE, encoding="utf-8") as f:
        design = yaml.safe_load(f)
    if not isinstance(design, dict):
        raise ValueError(f"{DESIGN_FILE} must hold a mapping (data_center, vpc, zones, subnets, ...)")
    return design


# -- design checks (pure: they run in the `plan` task before any plugin is called) --------------


class DesignError(ValueError):
    """The design is not usable; the message says where and why. Nothing was created."""


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
    unknown = set(design) - {"data_center", "vpc", "zones", "subnets", "route_tables", "security_groups"}
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
            subnet = _name(f"{vpc_name}-{name}-{zone}", f"subnet name of tier {name} in zone {zone}")
            by_zone[zone].append(
                {"callbackParameter": subnet, "name": subnet, "vpc": vpc_name, "zone": zone, "prefix_length": prefix}
            )
    wanted = sum(2 ** (vpc_cidr.max_prefixlen - e["prefix_length"]) for z in by_zone.values() for e in z)
    if wanted > vpc_cidr.num_addresses:
        raise DesignError(f"the subnets need {wanted} addresses but VPC {vpc_name} ({vpc_cidr}) has {vpc_cidr.num_addresses}")

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


def overlaps(subnets: list[dict[str, Any]]) -> list[str]:
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


def _flatten(values: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for v in values or []:
        if isinstance(v, dict):
            out.append(v)
        else:
            out.extend(_flatten(v))
    return out


with DAG(
    dag_id="wecube_network_build",
    description="Data center + VPC → subnets per zone (IPAM) → route tables → security groups → CMDB topology",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    schedule=None,
    catchup=False,
    max_active_runs=1,  # two builds of one design at once would race on the same names
    tags=["wecube", "network", "example"],
    params={
        "design": Param(
            load_default_design(),
            type="object",
            description="The network design (see dags/designs/network.yml for the fields).",
            **DESIGN_SCHEMA,
        ),
    },
    doc_md=__doc__,
) as dag:

    @task(multiple_outputs=True)
    def plan(params: dict | None = None, dag_run=None) -> dict[str, Any]:
        """Check the design and turn it into plugin inputs; a bad design fails here, before any call."""
        from airflow_wecube.orchestration import refuse_unknown_conf

        refuse_unknown_conf(dag_run.conf if dag_run else None, dag.params.keys())
        return plan_design((params or {}).get("design"))

    design = plan()

    @task
    def zones(planned: dict) -> list[list[dict[str, Any]]]:
        """The subnet requests grouped by zone: what the subnet fan-out maps over."""
        return planned["subnets_by_zone"]

    vpc = WeCubePluginOperator(task_id="create_vpc", service="network/vpc/create", inputs=design["vpc"])

    # fan-out: one mapped task per zone, each one batched plugin call for that zone's subnets
    subnets = WeCubePluginOperator.partial(
        task_id="create_subnets",
        service="network/subnet/create",
        map_index_template="{{ task.inputs[0]['zone'] if task.inputs else '' }}",
    ).expand(inputs=zones(design))

    route_tables = WeCubePluginOperator(
        task_id="create_route_tables", service="network/route-table/create", inputs=design["route_tables"]
    )
    security_groups = WeCubePluginOperator(
        task_id="create_security_groups", service="network/security-group/create", inputs=design["security_groups"]
    )

    @task
    def topology(vpc_out: dict, subnet_outs: Any, route_table_outs: list, security_group_outs: list) -> dict[str, Any]:
        """Read the topology back from the CMDB, check it, and count what this run changed."""
        from airflow_wecube.hooks.plugin import WeCubePluginHook

        subnet_outs = _flatten(subnet_outs)
        results = [vpc_out, *subnet_outs, *(route_table_outs or []), *(security_group_outs or [])]
        created = sum(o.get("created") == "Y" for o in results)
        updated = sum(o.get("updated") == "Y" for o in results)

        vpc_guid = vpc_out["guid"]
        kinds = ["data_center", "vpc", "subnet", "route_table", "security_group"]
        query = [{"callbackParameter": k, "type": k} for k in kinds]
        query[0]["name"] = vpc_out["data_center"]
        query[1]["guid"] = vpc_guid
        result = WeCubePluginHook().call("cmdb/ci/query", query)
        items = {o["callbackParameter"]: o.get("items") or [] for o in result.outputs}

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
        for o in [*subnet_outs, *(route_table_outs or []), *(security_group_outs or [])]:
            if recorded.get(o["name"]) != o["guid"]:
                problems.append(f"{o['name']} ({o['guid']}) is not recorded in the CMDB under VPC {vpc_out['name']}")
        if problems:
            raise ValueError("the network in the CMDB is not what was built:\n  - " + "\n  - ".join(problems))

        def brief(kind: str, field: str) -> list[dict[str, Any]]:
            return [{"guid": ci["guid"], "name": ci["name"], field: ci["attributes"].get(field)} for ci in of_vpc(kind)]

        summary = {
            "data_center": {"guid": items["data_center"][0]["guid"], "name": vpc_out["data_center"]},
            "vpc": {"guid": vpc_guid, "name": vpc_out["name"], "cidr": vpc_out["cidr"]},
            "subnets": sorted(subnet_cis, key=lambda s: ipaddress.ip_network(s["cidr"])),
            "route_tables": brief("route_table", "routes"),
            "security_groups": brief("security_group", "rules"),
            "created": created,
            "updated": updated,
            "unchanged": len(results) - created - updated,
        }
        print(
            f"VPC {vpc_out['name']} ({vpc_cidr}) in {vpc_out['data_center']}: {len(subnet_cis)} subnets, "
            f"{len(summary['route_tables'])} route tables, {len(summary['security_groups'])} security groups; "
            f"this run created {created}, updated {updated}, left {summary['unchanged']} unchanged"
        )
        for s in summary["subnets"]:
            print(f"  {s['cidr']:<18} {s['zone']:<8} {s['name']}")
        return summary

    vpc >> [subnets, route_tables, security_groups]
    topology(vpc.output, subnets.output, route_tables.output, security_groups.output)
