"""``network``'s query and delete interfaces: what a real network plugin answers about the resources
it owns, and how they are removed. :mod:`.network` registers them on its plugins.

``network/vpc/query``             [``name``]: the VPCs (all, or the one of that name)
``network/subnet/query``          [``vpc`` (guid or name), ``name``]: the subnets
``network/route-table/query``     [``vpc``, ``name``]: the route tables
``network/security-group/query``  [``vpc``, ``name``]: the security groups
``network/subnet/delete``         ``name`` (or guid): removes the subnet and its CMDB CI; refused while
                                  a host lives in it. Deleting what is not there succeeds (``deleted`` N).
``network/route-table/delete``    ``name``: the same for a route table
``network/security-group/delete`` ``name``: the same for a security group

A query answers ``items`` (each with ``guid``, ``name``, ``vpc``, ``vpc_guid`` and its own attributes:
``cidr``, ``prefix_length``, ``zone`` / ``routes`` / ``rules``) and ``count``: the plugin's own state,
not the CMDB's record of it (a reconcile compares the two).
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any

from airflow_wecube.sandbox.plugin import Call, EntityError, lookup, present, text

#: table, its JSON list column (or None), per plugin
_TABLES = {
    "subnet": ("network_subnet", None),
    "route-table": ("network_route_table", "routes"),
    "security-group": ("network_security_group", "rules"),
}


def _vpc_filter(call: Call, entity: dict[str, Any]) -> str | None:
    ref = text(entity, "vpc").strip()
    if not ref:
        return None
    row = lookup(call.store.connection(), "SELECT * FROM network_vpc", ref)
    if row is None:
        raise EntityError(f"unknown VPC {ref!r} (give its guid or name)")
    return row["guid"]


def _item(row: Any, field: str | None) -> dict[str, Any]:
    out = {"guid": row["guid"], "name": row["name"], "vpc": row["vpc_name"], "vpc_guid": row["vpc_guid"]}
    if field is None:
        cidr = ipaddress.ip_network(row["cidr"])
        out.update(cidr=row["cidr"], prefix_length=cidr.prefixlen, zone=row["zone"])
    else:
        out[field] = json.loads(row[field])
    return out


def query(plugin: str):
    """The ``query`` handler of a network plugin (``subnet``, ``route-table``, ``security-group``)."""
    table, field = _TABLES[plugin]

    def handler(entity: dict[str, Any], call: Call) -> dict[str, Any]:
        sql = f"SELECT t.*, v.name AS vpc_name FROM {table} t JOIN network_vpc v ON v.guid = t.vpc_guid WHERE 1 = 1"  # noqa: S608
        args: list[Any] = []
        vpc = _vpc_filter(call, entity)
        if vpc is not None:
            sql += " AND t.vpc_guid = ?"
            args.append(vpc)
        if present(entity.get("name")):
            sql += " AND t.name = ?"
            args.append(text(entity, "name"))
        rows = call.store.connection().execute(sql + " ORDER BY t.name", args).fetchall()
        items = [_item(r, field) for r in rows]
        return {"items": items, "count": len(items)}

    handler.__name__ = f"query_{table}"
    handler.__doc__ = f"The {plugin.replace('-', ' ')}s the network plugin holds, optionally of one VPC or name."
    return handler


def delete(plugin: str, ci_type: str):
    """The ``delete`` handler of a network plugin; its CMDB CI (type ``ci_type``) goes with it."""
    table, _ = _TABLES[plugin]

    def handler(entity: dict[str, Any], call: Call) -> dict[str, Any]:
        ref = text(entity, "name").strip()
        if not ref:
            raise EntityError("input name must not be blank")
        with call.store.transaction() as db:
            row = lookup(db, f"SELECT * FROM {table}", ref)  # noqa: S608 - fixed names
            if row is None:
                return {"guid": "", "name": ref, "deleted": "N"}
            if plugin == "subnet":
                hosts = [
                    r["name"] for r in db.execute("SELECT name FROM host_host WHERE subnet_guid = ?", (row["guid"],))
                ]
                if hosts:
                    raise EntityError(
                        f"subnet {row['name']} still holds host(s) {', '.join(hosts[:5])}: destroy them first"
                    )
            db.execute(f"DELETE FROM {table} WHERE guid = ?", (row["guid"],))  # noqa: S608 - fixed names
            db.execute("DELETE FROM cmdb_ci WHERE guid = ? AND type = ?", (row["guid"], ci_type))
        return {"guid": row["guid"], "name": row["name"], "deleted": "Y"}

    handler.__name__ = f"delete_{table}"
    handler.__doc__ = f"Remove a {plugin.replace('-', ' ')} and its CMDB CI; removing one not there changes nothing."
    return handler


def query_vpcs(entity: dict[str, Any], call: Call) -> dict[str, Any]:
    """The VPCs the network plugin holds (all, or the one named)."""
    sql, args = "SELECT * FROM network_vpc", []
    if present(entity.get("name")):
        sql += " WHERE name = ?"
        args.append(text(entity, "name"))
    rows = call.store.connection().execute(sql + " ORDER BY name", args).fetchall()
    items = [{"guid": r["guid"], "name": r["name"], "cidr": r["cidr"], "data_center": r["data_center"]} for r in rows]
    return {"items": items, "count": len(items)}


__all__ = ["delete", "query", "query_vpcs"]
