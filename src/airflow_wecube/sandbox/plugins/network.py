"""``network``: VPCs, subnets, route tables and security groups, with real IPAM.

Services (all idempotent on the resource's name: a retry, or a rerun of the same design, gets the
same guid and changes nothing):

``network/vpc/create``             ``name``, ``cidr`` (e.g. ``10.10.0.0/16``), ``data_center``
``network/subnet/create``          ``name``, ``vpc`` (guid or name), ``zone``, and ``prefix_length``
                                   (the lowest free block of that size is allocated) or ``cidr``
``network/route-table/create``     ``name``, ``vpc``, ``routes``: ``[{destination, target}]``
``network/security-group/create``  ``name``, ``vpc``, ``rules``: ``[{direction, protocol, port_range, cidr}]``

IPAM is plain :mod:`ipaddress` arithmetic (:mod:`airflow_wecube.sandbox.ipam`): subnets lie
inside their VPC and never overlap. Each allocation reads the VPC's subnets and writes the new one
in a single ``BEGIN IMMEDIATE`` transaction, so many subnets in one request and concurrent
requests never get overlapping blocks.

Each resource is also a CMDB CI (types ``data_center``, ``vpc``, ``subnet``, ``route_table``,
``security_group``) whose guid *is* the resource's guid, with references in its attributes
(``vpc_guid``, ``data_center_guid``), so ``cmdb/ci/query`` finds the whole topology.
Route tables and security groups converge on what is asked: a rerun with other routes or rules
replaces them (``updated`` = Y) and keeps the guid.
"""

from __future__ import annotations

import ipaddress
import json
import re
import sqlite3
import time
from typing import Any

from airflow_wecube.sandbox.ipam import IpamError, allocate, check_free, parse_network
from airflow_wecube.sandbox.plugin import (
    Call,
    EntityError,
    SandboxPackage,
    array,
    find_by_ref,
    integer,
    name_input,
    present,
    text,
)
from airflow_wecube.sandbox.plugins import network_query
from airflow_wecube.sandbox.plugins.cmdb import put_ci

SCHEMA = """
CREATE TABLE IF NOT EXISTS network_vpc (
    guid TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    cidr TEXT NOT NULL,
    data_center TEXT NOT NULL,
    data_center_guid TEXT NOT NULL,
    request_id TEXT,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS network_subnet (
    guid TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    vpc_guid TEXT NOT NULL REFERENCES network_vpc (guid),
    cidr TEXT NOT NULL,
    zone TEXT NOT NULL,
    request_id TEXT,
    created_at REAL NOT NULL,
    UNIQUE (vpc_guid, cidr)
);
CREATE TABLE IF NOT EXISTS network_route_table (
    guid TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    vpc_guid TEXT NOT NULL REFERENCES network_vpc (guid),
    routes TEXT NOT NULL,
    request_id TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS network_security_group (
    guid TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    vpc_guid TEXT NOT NULL REFERENCES network_vpc (guid),
    rules TEXT NOT NULL,
    request_id TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
"""

#: allowed VPC prefix lengths per IP version (inclusive)
VPC_PREFIX = {4: (8, 28), 6: (32, 64)}
#: the longest subnet prefix per IP version: leaves room for a gateway and a few hosts
SUBNET_MAX_PREFIX = {4: 29, 6: 124}

package = SandboxPackage("network", schema=SCHEMA)
vpc_plugin = package.plugin("vpc")
subnet_plugin = package.plugin("subnet")
route_table_plugin = package.plugin("route-table")
security_group_plugin = package.plugin("security-group")


# -- input helpers ----------------------------------------------------------------------------


def _ipam(fn, *args):
    try:
        return fn(*args)
    except IpamError as e:
        raise EntityError(str(e)) from None


# -- lookups (the host plugin finds its subnet with find_subnet) ------------------------------


def find_vpc(db: sqlite3.Connection, ref: str) -> sqlite3.Row:
    """A VPC by guid or name."""
    return find_by_ref(db, "SELECT * FROM network_vpc", ref, "VPC")


def find_subnet(db: sqlite3.Connection, ref: str) -> sqlite3.Row:
    """A subnet by guid or name, with its VPC's name and guid (``vpc_name``)."""
    sql = "SELECT s.*, v.name AS vpc_name FROM network_subnet s JOIN network_vpc v ON v.guid = s.vpc_guid"
    return find_by_ref(db, sql, ref, "subnet", alias="s")


def _vpc_ref(entity: dict[str, Any]) -> str:
    ref = text(entity, "vpc").strip()
    if not ref:
        raise EntityError("input vpc must not be blank")
    return ref


# -- vpc --------------------------------------------------------------------------------------


def _vpc_out(row: Any, created: bool) -> dict[str, Any]:
    return {
        "guid": row["guid"],
        "name": row["name"],
        "cidr": row["cidr"],
        "data_center": row["data_center"],
        "data_center_guid": row["data_center_guid"],
        "created": "Y" if created else "N",
    }


@vpc_plugin.entity("create")
def create_vpc(entity: dict[str, Any], call: Call) -> dict[str, Any]:
    """A VPC with its address space; its data center CI is created when new."""
    name = name_input(entity)
    cidr = _ipam(parse_network, text(entity, "cidr"), "cidr")
    low, high = VPC_PREFIX[cidr.version]
    if not low <= cidr.prefixlen <= high:
        raise EntityError(f"a VPC cidr must be a /{low} to /{high} block, got {cidr}")
    data_center = name_input(entity, "data_center")
    with call.store.transaction() as db:
        row = db.execute("SELECT * FROM network_vpc WHERE name = ?", (name,)).fetchone()
        if row is not None:
            if row["cidr"] != str(cidr) or row["data_center"] != data_center:
                raise EntityError(
                    f"VPC {name} already exists with cidr {row['cidr']} in data center {row['data_center']}"
                    f" (asked: {cidr} in {data_center}); a VPC's address space cannot change"
                )
            return _vpc_out(row, False)
        dc, _ = put_ci(db, "data_center", data_center, {})
        ci, _ = put_ci(db, "vpc", name, {"cidr": str(cidr), "data_center": data_center, "data_center_guid": dc["guid"]})
        db.execute(
            "INSERT INTO network_vpc (guid, name, cidr, data_center, data_center_guid, request_id, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (ci["guid"], name, str(cidr), data_center, dc["guid"], call.request_id, time.time()),
        )
        row = db.execute("SELECT * FROM network_vpc WHERE guid = ?", (ci["guid"],)).fetchone()
    return _vpc_out(row, True)


# -- subnet -----------------------------------------------------------------------------------


def _subnet_out(row: Any, vpc: Any, created: bool) -> dict[str, Any]:
    cidr = ipaddress.ip_network(row["cidr"])
    return {
        "guid": row["guid"],
        "name": row["name"],
        "cidr": row["cidr"],
        "prefix_length": cidr.prefixlen,
        "gateway": str(next(cidr.hosts())),
        "zone": row["zone"],
        "vpc_guid": vpc["guid"],
        "vpc": vpc["name"],
        "created": "Y" if created else "N",
    }


@subnet_plugin.entity("create")
def create_subnet(entity: dict[str, Any], call: Call) -> dict[str, Any]:
    """A subnet inside its VPC: the lowest free ``/prefix_length`` block, or the ``cidr`` asked if free."""
    name = name_input(entity)
    zone = name_input(entity, "zone")
    vpc_ref = _vpc_ref(entity)
    explicit = _ipam(parse_network, text(entity, "cidr"), "cidr") if present(entity.get("cidr")) else None
    prefix = integer(entity, "prefix_length", default=-1) if present(entity.get("prefix_length")) else None
    if explicit is None and prefix is None:
        raise EntityError("give prefix_length (allocate the next free block) or cidr (an explicit block)")
    if explicit is not None and prefix is not None and explicit.prefixlen != prefix:
        raise EntityError(f"cidr {explicit} is a /{explicit.prefixlen} but prefix_length says /{prefix}")
    with call.store.transaction() as db:
        vpc = find_vpc(db, vpc_ref)
        vpc_cidr = ipaddress.ip_network(vpc["cidr"])
        want = explicit.prefixlen if explicit is not None else prefix
        longest = SUBNET_MAX_PREFIX[vpc_cidr.version]
        if not vpc_cidr.prefixlen <= want <= longest:
            raise EntityError(
                f"subnet {name}: a subnet of VPC {vpc['name']} ({vpc_cidr}) must be a /{vpc_cidr.prefixlen}"
                f" to /{longest} block, got /{want}"
            )
        row = db.execute("SELECT * FROM network_subnet WHERE name = ?", (name,)).fetchone()
        if row is not None:
            _same_subnet(row, vpc, name, zone, explicit, prefix, db)
            return _subnet_out(row, vpc, False)
        used = {
            r["name"]: ipaddress.ip_network(r["cidr"])
            for r in db.execute("SELECT name, cidr FROM network_subnet WHERE vpc_guid = ?", (vpc["guid"],))
        }
        if explicit is not None:
            try:
                check_free(vpc_cidr, used, explicit)
            except IpamError as e:
                raise EntityError(f"subnet {name} in VPC {vpc['name']} ({vpc_cidr}): {e}") from None
            cidr = explicit
        else:
            try:
                cidr = allocate(vpc_cidr, used.values(), prefix)
            except IpamError as e:
                raise EntityError(
                    f"VPC {vpc['name']} ({vpc_cidr}) is exhausted: cannot allocate subnet {name}: {e};"
                    f" {len(used)} subnet(s) use it"
                ) from None
        ci, _ = put_ci(
            db, "subnet", name, {"cidr": str(cidr), "zone": zone, "vpc": vpc["name"], "vpc_guid": vpc["guid"]}
        )
        db.execute(
            "INSERT INTO network_subnet (guid, name, vpc_guid, cidr, zone, request_id, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (ci["guid"], name, vpc["guid"], str(cidr), zone, call.request_id, time.time()),
        )
        row = db.execute("SELECT * FROM network_subnet WHERE guid = ?", (ci["guid"],)).fetchone()
    return _subnet_out(row, vpc, True)


def _same_subnet(row, vpc, name, zone, explicit, prefix, db) -> None:
    """An existing subnet of that name is returned only when it matches what is asked."""
    have = ipaddress.ip_network(row["cidr"])
    if row["vpc_guid"] != vpc["guid"]:
        other = db.execute("SELECT name FROM network_vpc WHERE guid = ?", (row["vpc_guid"],)).fetchone()
        where = other["name"] if other else row["vpc_guid"]
        raise EntityError(f"subnet {name} already exists in VPC {where} ({have}), not in VPC {vpc['name']}")
    if explicit is not None and explicit != have:
        raise EntityError(f"subnet {name} already exists with cidr {have}, not {explicit}")
    if prefix is not None and prefix != have.prefixlen:
        raise EntityError(f"subnet {name} already exists as a /{have.prefixlen} ({have}), not a /{prefix}")
    if row["zone"] != zone:
        raise EntityError(f"subnet {name} already exists in zone {row['zone']}, not {zone}")


# -- route table ------------------------------------------------------------------------------


def validate_routes(routes: list[Any]) -> list[dict[str, str]]:
    """Routes as ``{"destination": CIDR, "target": ...}``, normalised; the first problem is raised."""
    out: list[dict[str, str]] = []
    seen: dict[str, int] = {}
    for i, route in enumerate(routes):
        if not isinstance(route, dict):
            raise EntityError(f"route #{i} must be an object with destination and target, got {type(route).__name__}")
        unknown = set(route) - {"destination", "target", "description"}
        if unknown:
            raise EntityError(f"route #{i} has unknown field(s): {', '.join(sorted(unknown))}")
        try:
            dest = parse_network(str(route.get("destination", "")), "destination")
        except IpamError as e:
            raise EntityError(f"route #{i}: {e}") from None
        target = str(route.get("target") or "").strip()
        if not target:
            raise EntityError(f"route #{i}: target must not be blank (e.g. local, internet, nat, or an address)")
        if str(dest) in seen:
            raise EntityError(f"route #{i}: destination {dest} is already routed by route #{seen[str(dest)]}")
        seen[str(dest)] = i
        item = {"destination": str(dest), "target": target}
        if route.get("description"):
            item["description"] = str(route["description"])
        out.append(item)
    return out


def _converge(call: Call, table: str, ci_type: str, field: str, name: str, vpc_ref: str, value: list) -> dict:
    """Create ``name`` in ``table`` with ``field`` = ``value``, or bring the existing one to it."""
    encoded = json.dumps(value)
    now = time.time()
    with call.store.transaction() as db:
        vpc = find_vpc(db, vpc_ref)
        row = db.execute(f"SELECT * FROM {table} WHERE name = ?", (name,)).fetchone()  # noqa: S608 - fixed names
        created = updated = False
        if row is not None and row["vpc_guid"] != vpc["guid"]:
            other = db.execute("SELECT name FROM network_vpc WHERE guid = ?", (row["vpc_guid"],)).fetchone()
            where = other["name"] if other else row["vpc_guid"]
            raise EntityError(f"{ci_type.replace('_', ' ')} {name} already exists in VPC {where}, not {vpc['name']}")
        if row is None:
            ci, _ = put_ci(db, ci_type, name, {"vpc": vpc["name"], "vpc_guid": vpc["guid"], field: value})
            db.execute(
                f"INSERT INTO {table} (guid, name, vpc_guid, {field}, request_id, created_at, updated_at)"  # noqa: S608
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (ci["guid"], name, vpc["guid"], encoded, call.request_id, now, now),
            )
            guid, created = ci["guid"], True
        else:
            guid = row["guid"]
            if json.loads(row[field]) != value:
                sql = f"UPDATE {table} SET {field} = ?, updated_at = ? WHERE guid = ?"  # noqa: S608 - fixed names
                db.execute(sql, (encoded, now, guid))
                put_ci(db, ci_type, name, {field: value})
                updated = True
    return {
        "guid": guid,
        "name": name,
        "vpc_guid": vpc["guid"],
        "vpc": vpc["name"],
        field: value,
        "created": "Y" if created else "N",
        "updated": "Y" if updated else "N",
    }


@route_table_plugin.entity("create")
def create_route_table(entity: dict[str, Any], call: Call) -> dict[str, Any]:
    """A route table of a VPC; a rerun with other routes replaces them."""
    name = name_input(entity)
    vpc_ref = _vpc_ref(entity)
    routes = validate_routes(array(entity, "routes"))
    return _converge(call, "network_route_table", "route_table", "routes", name, vpc_ref, routes)


# -- security group ---------------------------------------------------------------------------

DIRECTIONS = ("ingress", "egress")
PROTOCOLS = ("tcp", "udp", "icmp", "all")
_PORTS_RE = re.compile(r"^(\d{1,5})(?:-(\d{1,5}))?$")


def _port_range(protocol: str, raw: Any, i: int) -> str:
    value = "" if raw is None else str(raw).strip().lower()
    if protocol in ("icmp", "all"):
        if value not in ("", "all", "*"):
            raise EntityError(f"rule #{i}: protocol {protocol} takes no port_range (got {raw!r})")
        return "all"
    if value in ("all", "*"):
        return "1-65535"
    m = _PORTS_RE.match(value)
    if not m:
        raise EntityError(f"rule #{i}: port_range must be a port such as 443 or a range such as 8000-8080, got {raw!r}")
    low, high = int(m.group(1)), int(m.group(2) or m.group(1))
    if not 1 <= low <= high <= 65535:
        raise EntityError(f"rule #{i}: port_range {value} must lie within 1-65535 with the low port first")
    return str(low) if low == high else f"{low}-{high}"


def validate_rules(rules: list[Any]) -> list[dict[str, str]]:
    """Security group rules, normalised (lower-case names, ``80`` / ``8000-8080`` / ``all`` ports)."""
    out: list[dict[str, str]] = []
    seen: dict[tuple, int] = {}
    for i, rule in enumerate(rules):
        if not isinstance(rule, dict):
            raise EntityError(f"rule #{i} must be an object with direction, protocol, port_range and cidr")
        unknown = set(rule) - {"direction", "protocol", "port_range", "cidr", "description"}
        if unknown:
            raise EntityError(f"rule #{i} has unknown field(s): {', '.join(sorted(unknown))}")
        direction = str(rule.get("direction") or "").strip().lower()
        if direction not in DIRECTIONS:
            raise EntityError(f"rule #{i}: direction must be ingress or egress, got {rule.get('direction')!r}")
        protocol = str(rule.get("protocol") or "").strip().lower()
        if protocol not in PROTOCOLS:
            raise EntityError(
                f"rule #{i}: protocol must be one of {', '.join(PROTOCOLS)}, got {rule.get('protocol')!r}"
            )
        ports = _port_range(protocol, rule.get("port_range"), i)
        try:
            cidr = parse_network(str(rule.get("cidr") or ""), "cidr")
        except IpamError as e:
            raise EntityError(f"rule #{i}: {e}") from None
        key = (direction, protocol, ports, str(cidr))
        if key in seen:
            raise EntityError(f"rule #{i} repeats rule #{seen[key]}")
        seen[key] = i
        item = {"direction": direction, "protocol": protocol, "port_range": ports, "cidr": str(cidr)}
        if rule.get("description"):
            item["description"] = str(rule["description"])
        out.append(item)
    return out


@security_group_plugin.entity("create")
def create_security_group(entity: dict[str, Any], call: Call) -> dict[str, Any]:
    """A security group of a VPC with validated rules; a rerun with other rules replaces them."""
    name = name_input(entity)
    vpc_ref = _vpc_ref(entity)
    rules = validate_rules(array(entity, "rules"))
    return _converge(call, "network_security_group", "security_group", "rules", name, vpc_ref, rules)


# the query and delete interfaces live in their own module, on the same plugins
vpc_plugin.entity("query")(network_query.query_vpcs)
for _plugin, _ci_type in (
    (subnet_plugin, "subnet"),
    (route_table_plugin, "route_table"),
    (security_group_plugin, "security_group"),
):
    _plugin.entity("query")(network_query.query(_plugin.name))
    _plugin.entity("delete")(network_query.delete(_plugin.name, _ci_type))
