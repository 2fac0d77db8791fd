"""Three-way differences: the design, the CMDB record, and the resource as its owning plugin reports
it now. One function for the *Design vs reality* page and for the ``wecube_reconcile`` DAG.

Each resource is one row: ``kind``, ``name``, ``status`` and what each source says (``design``,
``record``, ``real``). The status, first match wins:

``missing``       in the design, the plugin does not have it
``changed``       in the design and real, attributes differ (``diff``: designed vs real value)
``extra``         real (in the designed VPC, or an instance of a designed app), not in the design
``stale_record``  the CMDB record disagrees with the plugin: a record of something the plugin does
                  not have, or a real resource with no record, another guid or other attributes
``ok``            all three agree

When a plugin cannot be asked (``real`` is ``None`` for a kind), the record stands in for reality
(two-way), as the page did before plugins answered queries.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from airflow_wecube.designs.network import plan_design

OK, MISSING, CHANGED, EXTRA, STALE_RECORD = "ok", "missing", "changed", "extra", "stale_record"
#: the classes of a difference (``ok`` is none)
CLASSES = (MISSING, CHANGED, EXTRA, STALE_RECORD)
NETWORK_KINDS = ("data_center", "vpc", "subnet", "route_table", "security_group")
APP_INSTANCE = "app_instance"
KINDS = (*NETWORK_KINDS, APP_INSTANCE)
#: the kinds inside a VPC (they can be extra)
VPC_KINDS = ("subnet", "route_table", "security_group")
#: the owning plugin's query interface per kind (the data center is only a CMDB record)
QUERY_SERVICES = {
    "vpc": "network/vpc/query",
    "subnet": "network/subnet/query",
    "route_table": "network/route-table/query",
    "security_group": "network/security-group/query",
}
INSTANCE_QUERY = "deploy/app/query"


def key(kind: str, name: str) -> str:
    """A difference's identity across runs (what a person's answer is remembered under)."""
    return f"{kind}/{name}"


# -- the design --------------------------------------------------------------------------------


def expected_network(design: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The resources a design asks for: kind, name, the attributes compared, and ``inputs``: the
    create request of the owning plugin (what ``wecube_network_build`` sends).

    :raises airflow_wecube.designs.network.DesignError: for a design that is not usable
    """
    plan = plan_design(design)
    vpc = plan["vpc"]
    out: list[dict[str, Any]] = [
        {
            "kind": "data_center",
            "name": vpc["data_center"],
            "attrs": {},
            "inputs": {"callbackParameter": vpc["data_center"], "type": "data_center", "name": vpc["data_center"]},
        },
        {
            "kind": "vpc",
            "name": vpc["name"],
            "attrs": {"cidr": vpc["cidr"], "data_center": vpc["data_center"]},
            "inputs": vpc,
        },
    ]
    for zone in plan["subnets_by_zone"]:
        for s in zone:
            attrs = {"zone": s["zone"], "prefix_length": s["prefix_length"]}
            out.append({"kind": "subnet", "name": s["name"], "parent": vpc["name"], "attrs": attrs, "inputs": s})
    for kind, field, items in (
        ("route_table", "routes", plan["route_tables"]),
        ("security_group", "rules", plan["security_groups"]),
    ):
        for item in items:
            out.append(
                {
                    "kind": kind,
                    "name": item["name"],
                    "parent": vpc["name"],
                    "attrs": {field: item[field]},
                    "inputs": item,
                }
            )
    return out


# -- what a record or the plugin says -------------------------------------------------------------


def _attrs(kind: str, a: Mapping[str, Any]) -> dict[str, Any]:
    """The compared attributes of ``kind`` from a CI's attributes or a query's item."""
    if kind == "subnet":
        cidr = a.get("cidr")
        return {"zone": a.get("zone"), "prefix_length": ipaddress.ip_network(cidr).prefixlen if cidr else None}
    if kind == "vpc":
        return {"cidr": a.get("cidr"), "data_center": a.get("data_center")}
    if kind == "route_table":
        return {"routes": a.get("routes")}
    if kind == "security_group":
        return {"rules": a.get("rules")}
    return {}


def _record_view(kind: str, ci: Mapping[str, Any]) -> dict[str, Any]:
    a = ci.get("attributes") or {}
    return {"guid": ci.get("guid"), "vpc": a.get("vpc"), "cidr": a.get("cidr"), **_attrs(kind, a)}


def _real_view(kind: str, item: Mapping[str, Any]) -> dict[str, Any]:
    return {**item, **_attrs(kind, item)}


def _stale(kind: str, record: Mapping[str, Any] | None, real: Mapping[str, Any] | None) -> str:
    """Why the record disagrees with the plugin ('' when it does not)."""
    if record is None and real is None:
        return ""
    if record is None:
        return "the plugin has it, the CMDB has no record of it"
    if real is None:
        return "the CMDB records it, the plugin does not have it"
    if record.get("guid") != real.get("guid"):
        return f"the record's guid {record.get('guid')} is not the plugin's {real.get('guid')}"
    differ = [k for k in _attrs(kind, real) if k in record and record.get(k) != real.get(k)]
    if differ:
        return "the record says other " + ", ".join(differ) + " than the plugin"
    return ""


def _by_name(items: Iterable[Mapping[str, Any]] | None) -> dict[str, Mapping[str, Any]]:
    return {i["name"]: i for i in items or []}


def compare_network(
    expected: Sequence[Mapping[str, Any]],
    records: Mapping[str, Sequence[Mapping[str, Any]]],
    real: Mapping[str, Sequence[Mapping[str, Any]] | None] | None = None,
) -> list[dict[str, Any]]:
    """One row per resource of the design, then one per extra or stale one of the designed VPC.

    :param records: CIs per kind, as ``cmdb/ci/query`` lists them
    :param real: items per kind, as the owning plugin's query lists them; a kind absent (or
        ``None``) is compared with its record only
    """
    real = real or {}
    vpc_name = next((e["name"] for e in expected if e["kind"] == "vpc"), None)
    rows: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()

    def sources(kind: str, name: str) -> tuple[dict | None, dict | None, dict | None]:
        ci = _by_name(records.get(kind)).get(name)
        record = _record_view(kind, ci) if ci is not None else None
        if kind in QUERY_SERVICES and real.get(kind) is not None:
            item = _by_name(real.get(kind)).get(name)
            return ci, record, _real_view(kind, item) if item is not None else None
        return ci, record, dict(record) if record is not None else None

    for e in expected:
        kind, name = e["kind"], e["name"]
        seen.add((kind, name))
        ci, record, have = sources(kind, name)
        row = {**e, "record": record, "real": have, "guid": (have or record or {}).get("guid"), "diff": []}
        row["actual"] = (ci or {}).get("attributes") or {}
        if have is None:
            row["status"], row["detail"] = MISSING, "designed, the plugin does not have it"
        else:
            row["diff"] = [
                {"attribute": k, "designed": v, "actual": have.get(k)}
                for k, v in e["attrs"].items()
                if have.get(k) != v
            ]
            stale = _stale(kind, record, have)
            if row["diff"]:
                row["status"], row["detail"] = CHANGED, "attributes differ from the design"
            elif stale:
                row["status"], row["detail"] = STALE_RECORD, stale
            else:
                row["status"], row["detail"] = OK, ""
        rows.append(row)

    for kind in VPC_KINDS:
        names = {ci["name"] for ci in records.get(kind) or [] if (ci.get("attributes") or {}).get("vpc") == vpc_name}
        names |= {i["name"] for i in real.get(kind) or [] if i.get("vpc") == vpc_name}
        for name in sorted(names):
            if (kind, name) in seen:
                continue
            ci, record, have = sources(kind, name)
            row = {
                "kind": kind,
                "name": name,
                "parent": vpc_name,
                "attrs": {},
                "record": record,
                "real": have,
                "guid": (have or record or {}).get("guid"),
                "diff": [],
                "actual": (ci or {}).get("attributes") or {},
            }
            if have is not None:
                row["status"], row["detail"] = EXTRA, "real, not in the design"
            else:
                row["status"], row["detail"] = STALE_RECORD, _stale(kind, record, None)
            rows.append(row)
    for row in rows:
        row["key"] = key(row["kind"], row["name"])
    return rows


# -- app instances ---------------------------------------------------------------------------------


def _host_index(app: str, host: str) -> int | None:
    prefix, _, n = host.rpartition("-")
    return int(n) if prefix == app and n.isdigit() else None


def compare_apps(
    apps: Sequence[Mapping[str, Any]],
    instances: Sequence[Mapping[str, Any]] | None,
    hosts: Sequence[Mapping[str, Any]] = (),
    desired: Mapping[str, int] | None = None,
) -> list[dict[str, Any]]:
    """One row per instance of each app: the hosts the app's CI records (its design) against what
    the deploy plugin runs (``instances``, from ``deploy/app/query``).

    :param apps: the ``app`` CIs (``attributes.version``, ``attributes.instances`` = ``[{host, ...}]``)
    :param hosts: the ``host`` CIs: a new instance's subnet is the subnet of the app's hosts
    :param desired: an instance count per app (the capacity model's); default: as many as recorded
    """
    subnet_of = {h["name"]: (h.get("attributes") or {}).get("subnet") for h in hosts}
    rows: list[dict[str, Any]] = []
    for app_ci in apps:
        app = app_ci["name"]
        a = app_ci.get("attributes") or {}
        version = a.get("version")
        recorded = [i for i in a.get("instances") or [] if isinstance(i, dict) and i.get("host")]
        mine = {i["host"]: i for i in instances or [] if i.get("app") == app}
        count = len(recorded) if desired is None or app not in desired else int(desired[app])
        wanted = [i["host"] for i in recorded][:count]
        known = [*wanted, *(i["host"] for i in recorded), *mine]
        top = max((n for h in known if (n := _host_index(app, h)) is not None), default=0)
        while len(wanted) < count:
            top += 1
            wanted.append(f"{app}-{top}")
        subnet = next((subnet_of[h] for h in [*wanted, *known] if subnet_of.get(h)), None)
        by_host = {i["host"]: i for i in recorded}
        for host in wanted:
            inst = mine.get(host)
            record = by_host.get(host)
            row = {
                "kind": APP_INSTANCE,
                "name": f"{app}@{host}",
                "parent": app,
                "app": app,
                "app_guid": app_ci.get("guid"),
                "job": a.get("prometheus_job"),
                "recorded": recorded,
                "host": host,
                "attrs": {"version": version},
                "design": {"app": app, "host": host, "version": version, "subnet": subnet_of.get(host) or subnet},
                "record": dict(record) if record else None,
                "real": dict(inst) if inst else None,
                "guid": (inst or {}).get("guid"),
                "diff": [],
            }
            if inst is None or inst.get("status") != "running":
                why = (
                    "the deploy plugin does not run it: never deployed, or its host was destroyed"
                    if inst is None
                    else f"{inst.get('status')}: {inst.get('message') or ''}"
                )
                if inst is not None and inst.get("host_alive") == "N":
                    why = "its host is gone"
                row["status"], row["detail"] = MISSING, f"wanted, not running ({why.strip(': ')})"
            elif inst.get("version") != version:
                row["status"], row["detail"] = CHANGED, "runs another version than the app's"
                row["diff"] = [{"attribute": "version", "designed": version, "actual": inst.get("version")}]
            elif record is None or record.get("target") != inst.get("target"):
                row["status"] = STALE_RECORD
                row["detail"] = "the app's record does not list this instance as it runs"
            else:
                row["status"], row["detail"] = OK, ""
            rows.append(row)
        for host, inst in sorted(mine.items()):
            if host in wanted or inst.get("status") != "running":
                continue
            rows.append(
                {
                    "kind": APP_INSTANCE,
                    "name": f"{app}@{host}",
                    "parent": app,
                    "app": app,
                    "app_guid": app_ci.get("guid"),
                    "job": a.get("prometheus_job"),
                    "host": host,
                    "attrs": {},
                    "design": None,
                    "record": dict(by_host[host]) if host in by_host else None,
                    "real": dict(inst),
                    "guid": inst.get("guid"),
                    "diff": [],
                    "status": EXTRA,
                    "detail": f"runs, beyond the {count} instance(s) wanted",
                }
            )
    for row in rows:
        row["key"] = key(row["kind"], row["name"])
    return rows


def differences(rows: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The rows that differ."""
    return [r for r in rows if r.get("status") != OK]


def summary(rows: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """How many rows per status (``ok`` and each class)."""
    rows = list(rows)
    return {s: sum(r.get("status") == s for r in rows) for s in (OK, *CLASSES)}


__all__ = [
    "APP_INSTANCE",
    "CHANGED",
    "CLASSES",
    "EXTRA",
    "INSTANCE_QUERY",
    "KINDS",
    "MISSING",
    "NETWORK_KINDS",
    "OK",
    "QUERY_SERVICES",
    "STALE_RECORD",
    "compare_apps",
    "compare_network",
    "differences",
    "expected_network",
    "key",
    "summary",
]
