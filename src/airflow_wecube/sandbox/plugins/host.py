"""``host``: sandbox hosts. A host is an address in a subnet, a local workspace folder and a
range of loopback ports.

``host/host/create``   ``name``, ``subnet`` (guid or name): the lowest free address of the subnet
                       (IPAM, the first host address being the gateway), a workspace folder
                       ``<sandbox data dir>/hosts/<name>`` and ``WECUBE_SANDBOX_HOST_PORTS`` (10)
                       consecutive loopback ports, the first free block from
                       ``WECUBE_SANDBOX_PORT_BASE`` (20000) that no other host holds and nothing
                       listens on. Idempotent on the name.
``host/host/destroy``  ``host`` (guid or name): stops the apps deployed on it, removes its
                       workspace, frees its address and ports, and marks its CI ``destroyed``.
                       Destroying a destroyed host succeeds and changes nothing.
``host/host/check``    ``host``, ``ip``, ``subnet_cidr`` as the CMDB describes the host (entity-mapped:
                       ``entities="cmdb:subnet~(subnet)cmdb:host"`` fills them, docs/data-model.md):
                       ``inventory_status`` ``ok`` when the address lies in the subnet, the host runs
                       at that address and its workspace exists, else ``mismatch``; ``inventory_note``
                       says what was checked. Reads only; the same host gets the same answer.

Each host is a ``host`` CMDB CI (guid = the host's guid) referencing its subnet and VPC.
"""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import sqlite3
import time
from pathlib import Path
from typing import Any

from airflow_wecube.sandbox.ipam import IpamError, next_address
from airflow_wecube.sandbox.plugin import Call, EntityError, SandboxPackage, find_by_ref, lookup, name_input, text
from airflow_wecube.sandbox.plugins.cmdb import put_ci
from airflow_wecube.sandbox.plugins.network import find_subnet
from airflow_wecube.sandbox.processes import port_is_free, stop_host_apps

SCHEMA = """
CREATE TABLE IF NOT EXISTS host_host (
    guid TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    subnet_guid TEXT NOT NULL,
    ip TEXT NOT NULL,
    port_base INTEGER NOT NULL UNIQUE,
    port_count INTEGER NOT NULL,
    workspace TEXT NOT NULL,
    request_id TEXT,
    created_at REAL NOT NULL,
    UNIQUE (subnet_guid, ip)
);
"""

#: environment variables that move the loopback port ranges handed to hosts
PORT_BASE_ENV = "WECUBE_SANDBOX_PORT_BASE"
PORT_COUNT_ENV = "WECUBE_SANDBOX_HOST_PORTS"
DEFAULT_PORT_BASE = 20000
DEFAULT_PORT_COUNT = 10

UNKNOWN_HOST_HINT = "give the guid or name of a host that exists"

package = SandboxPackage("host", schema=SCHEMA)
host_plugin = package.plugin("host")


def port_settings() -> tuple[int, int]:
    """``(base, count)`` from the environment, checked."""
    try:
        base = int(os.environ.get(PORT_BASE_ENV) or DEFAULT_PORT_BASE)
        count = int(os.environ.get(PORT_COUNT_ENV) or DEFAULT_PORT_COUNT)
    except ValueError:
        raise EntityError(f"${PORT_BASE_ENV} and ${PORT_COUNT_ENV} must be integers") from None
    if not (1024 <= base <= 65535 and 1 <= count <= 1000):
        raise EntityError(f"${PORT_BASE_ENV} must be 1024-65535 and ${PORT_COUNT_ENV} 1-1000, got {base} and {count}")
    return base, count


def allocate_ports(taken: list[tuple[int, int]], base: int, count: int) -> int:
    """The first ``count``-port block from ``base`` overlapping no ``(start, count)`` of ``taken``
    and free on loopback now."""
    start = base
    while start + count - 1 <= 65535:
        clash = any(start < s + n and s < start + count for s, n in taken)
        if not clash and all(port_is_free(p) for p in range(start, start + count)):
            return start
        start += count
    raise EntityError(f"no free block of {count} loopback ports left from {base} to 65535")


def workspaces_dir(call: Call) -> Path:
    """Where host workspaces live: ``hosts/`` beside the sandbox's database."""
    return call.store.path.resolve().parent / "hosts"


def find_host(db: sqlite3.Connection, ref: str) -> sqlite3.Row:
    """A live host by guid or name."""
    return find_by_ref(db, "SELECT * FROM host_host", ref, "host", hint=UNKNOWN_HOST_HINT)


def host_output(row: Any, subnet: Any, created: bool) -> dict[str, Any]:
    base, count = row["port_base"], row["port_count"]
    return {
        "guid": row["guid"],
        "name": row["name"],
        "ip": row["ip"],
        "subnet_guid": subnet["guid"],
        "subnet": subnet["name"],
        "vpc_guid": subnet["vpc_guid"],
        "workspace": row["workspace"],
        "port_base": base,
        "port_count": count,
        "ports": f"{base}-{base + count - 1}",
        "status": "running",
        "created": "Y" if created else "N",
    }


@host_plugin.entity("create")
def create_host(entity: dict[str, Any], call: Call) -> dict[str, Any]:
    """A host in a subnet: the next free address, a workspace folder and a loopback port range."""
    name = name_input(entity)
    subnet_ref = text(entity, "subnet").strip()
    with call.store.transaction() as db:
        subnet = find_subnet(db, subnet_ref)
        row = db.execute("SELECT * FROM host_host WHERE name = ?", (name,)).fetchone()
        if row is not None:
            if row["subnet_guid"] != subnet["guid"]:
                have = db.execute("SELECT name FROM network_subnet WHERE guid = ?", (row["subnet_guid"],)).fetchone()
                where = have["name"] if have else row["subnet_guid"]
                raise EntityError(
                    f"host {name} already exists in subnet {where} ({row['ip']}), not in {subnet['name']}"
                )
            Path(row["workspace"]).mkdir(parents=True, exist_ok=True)
            return host_output(row, subnet, False)
        cidr = ipaddress.ip_network(subnet["cidr"])
        used = [
            ipaddress.ip_address(r["ip"])
            for r in db.execute("SELECT ip FROM host_host WHERE subnet_guid = ?", (subnet["guid"],))
        ]
        try:
            ip = next_address(cidr, used)
        except IpamError as e:
            raise EntityError(
                f"cannot place host {name}: {e} ({len(used)} host(s) in subnet {subnet['name']})"
            ) from None
        base, count = port_settings()
        taken = [(r["port_base"], r["port_count"]) for r in db.execute("SELECT port_base, port_count FROM host_host")]
        port_base = allocate_ports(taken, base, count)
        workspace = workspaces_dir(call) / name
        ci, _ = put_ci(
            db,
            "host",
            name,
            {
                "ip": str(ip),
                "subnet": subnet["name"],
                "subnet_guid": subnet["guid"],
                "vpc": subnet["vpc_name"],
                "vpc_guid": subnet["vpc_guid"],
                "workspace": str(workspace),
                "port_base": port_base,
                "port_count": count,
                "status": "running",
                "destroyed_at": None,
            },
        )
        db.execute(
            "INSERT INTO host_host (guid, name, subnet_guid, ip, port_base, port_count, workspace, request_id,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (ci["guid"], name, subnet["guid"], str(ip), port_base, count, str(workspace), call.request_id, time.time()),
        )
        row = db.execute("SELECT * FROM host_host WHERE guid = ?", (ci["guid"],)).fetchone()
        out = host_output(row, subnet, True)
        # inside the transaction: a folder that cannot be made leaves no host behind
        workspace.mkdir(parents=True, exist_ok=True)
        (workspace / "host.json").write_text(json.dumps({k: v for k, v in out.items() if k != "created"}, indent=2))
    return out


@host_plugin.entity("destroy")
def destroy_host(entity: dict[str, Any], call: Call) -> dict[str, Any]:
    """Stop the host's apps, remove its workspace, free its address and ports; its CI stays, destroyed."""
    ref = text(entity, "host").strip()
    db = call.store.connection()
    row = lookup(db, "SELECT * FROM host_host", ref)
    if row is None:
        gone = db.execute(
            "SELECT * FROM cmdb_ci WHERE type = 'host' AND (guid = ? OR name = ?)"
            " AND json_extract(attributes, '$.status') = 'destroyed'",
            (ref, ref),
        ).fetchone()
        if gone is None:
            raise EntityError(f"unknown host {ref!r} ({UNKNOWN_HOST_HINT})")
        return {"guid": gone["guid"], "name": gone["name"], "status": "destroyed", "destroyed": "N"}

    stopped = stop_host_apps(call.store, row["guid"])
    workspace = Path(row["workspace"])
    with call.store.transaction() as tx:
        tx.execute("DELETE FROM host_host WHERE guid = ?", (row["guid"],))
        put_ci(tx, "host", row["name"], {"status": "destroyed", "destroyed_at": time.time()})
    root = workspaces_dir(call)
    if workspace.resolve().parent == root and workspace.exists():
        shutil.rmtree(workspace, ignore_errors=True)
    return {
        "guid": row["guid"],
        "name": row["name"],
        "status": "destroyed",
        "destroyed": "Y",
        "stopped_apps": stopped,
    }


@host_plugin.entity("check")
def check_host(entity: dict[str, Any], call: Call) -> dict[str, Any]:
    """Compare the CMDB's view of a host (its inputs) with the running host."""
    name, ip_text, cidr_text = (text(entity, k).strip() for k in ("host", "ip", "subnet_cidr"))
    try:
        ip, cidr = ipaddress.ip_address(ip_text), ipaddress.ip_network(cidr_text, strict=False)
    except ValueError as e:
        raise EntityError(f"host {name}: {e}") from None
    row = lookup(call.store.connection(), "SELECT * FROM host_host", name)
    problems = []
    if ip not in cidr:
        problems.append(f"{ip} is outside its subnet {cidr}")
    if row is None:
        problems.append("no running host of that name")
    else:
        if row["ip"] != str(ip):
            problems.append(f"runs at {row['ip']}, not {ip}")
        if not Path(row["workspace"]).is_dir():
            problems.append("its workspace is missing")
    note = "; ".join(problems) or f"{ip} in {cidr}, running, workspace present"
    return {"inventory_status": "mismatch" if problems else "ok", "inventory_note": note}
