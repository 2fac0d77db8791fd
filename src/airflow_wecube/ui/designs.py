"""Design vs reality: the network design against what the network plugin recorded in the CMDB
(missing / extra / changed, per resource), each app's desired instances against Prometheus ``up``,
and the same drawn as a picture (data center → VPC → zones → subnets → hosts → apps)."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request

from airflow_wecube.orchestrations.network_design import plan_design
from airflow_wecube.ui import cmdb
from airflow_wecube.ui.auth import READ_PLUGINS
from airflow_wecube.ui.render import render

router = APIRouter(dependencies=READ_PLUGINS)


def design_file() -> Path:
    """``[wecube] network_design``, else ``designs/network.yml`` in the DAGs folder (what the DAG reads)."""
    from airflow_wecube.config import airflow_option, dags_folder

    explicit = airflow_option("network_design")
    return Path(explicit).expanduser() if explicit else dags_folder() / "designs" / "network.yml"


def expected_network(design: dict[str, Any]) -> list[dict[str, Any]]:
    """The resources a design asks for: kind, name and the attributes the CMDB must show."""
    plan = plan_design(design)
    vpc = plan["vpc"]
    out = [
        {"kind": "data_center", "name": vpc["data_center"], "attrs": {}},
        {"kind": "vpc", "name": vpc["name"], "attrs": {"cidr": vpc["cidr"], "data_center": vpc["data_center"]}},
    ]
    for zone in plan["subnets_by_zone"]:
        for s in zone:
            out.append(
                {
                    "kind": "subnet",
                    "name": s["name"],
                    "parent": vpc["name"],
                    "attrs": {"zone": s["zone"], "prefix_length": s["prefix_length"]},
                }
            )
    for rt in plan["route_tables"]:
        out.append(
            {"kind": "route_table", "name": rt["name"], "parent": vpc["name"], "attrs": {"routes": rt["routes"]}}
        )
    for sg in plan["security_groups"]:
        out.append(
            {"kind": "security_group", "name": sg["name"], "parent": vpc["name"], "attrs": {"rules": sg["rules"]}}
        )
    return out


def _actual_attrs(kind: str, ci: dict[str, Any]) -> dict[str, Any]:
    a = ci.get("attributes") or {}
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


def compare_network(expected: list[dict[str, Any]], actual: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """One row per resource: ``ok``, ``missing`` (designed, not there), ``extra`` (there, not designed,
    in the designed VPC) or ``changed`` (with each differing attribute as designed / actual)."""
    vpc_name = next((e["name"] for e in expected if e["kind"] == "vpc"), None)
    rows = []
    for e in expected:
        found = {ci["name"]: ci for ci in actual.get(e["kind"], [])}.get(e["name"])
        if found is None:
            rows.append({**e, "status": "missing", "guid": None, "diff": []})
            continue
        have = _actual_attrs(e["kind"], found)
        diff = [
            {"attribute": k, "designed": v, "actual": have.get(k)} for k, v in e["attrs"].items() if have.get(k) != v
        ]
        rows.append(
            {
                **e,
                "status": "changed" if diff else "ok",
                "guid": found["guid"],
                "diff": diff,
                "actual": found.get("attributes") or {},
            }
        )
    designed = {(e["kind"], e["name"]) for e in expected}
    for kind in ("subnet", "route_table", "security_group"):
        for ci in actual.get(kind, []):
            if (ci.get("attributes") or {}).get("vpc") == vpc_name and (kind, ci["name"]) not in designed:
                rows.append(
                    {
                        "kind": kind,
                        "name": ci["name"],
                        "parent": vpc_name,
                        "attrs": {},
                        "status": "extra",
                        "guid": ci["guid"],
                        "diff": [],
                        "actual": ci.get("attributes") or {},
                    }
                )
    return rows


def app_health(apps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each app CI's desired instances against Prometheus ``up`` of its job."""
    from airflow_wecube.hooks.prometheus import PrometheusHook

    out = []
    hook = None
    for app in apps:
        a = app.get("attributes") or {}
        desired = [i for i in a.get("instances") or [] if isinstance(i, dict)]
        job = a.get("prometheus_job")
        up: dict[str, float] = {}
        error = None
        if job:
            try:
                hook = hook or PrometheusHook()
                for s in hook.query(f'up{{job="{job}"}}'):
                    up[s["metric"].get("instance", "")] = float(s["value"][1])
            except Exception as e:  # shown on the page
                error = f"Prometheus: {type(e).__name__}: {e}"
        instances = []
        for i in desired:
            target = i.get("target")
            value = up.get(target)
            instances.append(
                {
                    "host": i.get("host"),
                    "target": target,
                    "status": "up" if value == 1 else ("down" if value == 0 else "absent"),
                }
            )
        for target in up:
            if target not in {i.get("target") for i in desired}:
                instances.append({"host": None, "target": target, "status": "extra"})
        running = sum(i["status"] == "up" for i in instances)
        out.append(
            {
                "app": app["name"],
                "guid": app["guid"],
                "version": a.get("version"),
                "job": job,
                "desired": len(desired),
                "up": running,
                "instances": instances,
                "error": error,
                "status": "ok"
                if not error and running == len(desired) and all(i["status"] == "up" for i in instances)
                else "differs",
            }
        )
    return out


def topology(
    rows: list[dict[str, Any]], actual: dict[str, list[dict[str, Any]]], apps: list[dict[str, Any]]
) -> dict[str, Any]:
    """The tree the picture draws: data center → VPC → zones → subnets → hosts → apps, each marked."""
    dc = next((r for r in rows if r["kind"] == "data_center"), None)
    vpc = next((r for r in rows if r["kind"] == "vpc"), None)
    hosts_by_subnet: dict[str, list[dict[str, Any]]] = {}
    for h in actual.get("host", []):
        a = h.get("attributes") or {}
        if a.get("status") == "destroyed":
            continue
        hosts_by_subnet.setdefault(a.get("subnet"), []).append({"name": h["name"], "ip": a.get("ip"), "apps": []})
    by_host = {h["name"]: h for hs in hosts_by_subnet.values() for h in hs}
    for app in apps:
        for i in app["instances"]:
            if i["host"] in by_host:
                by_host[i["host"]]["apps"].append({"app": app["app"], "status": i["status"]})
    zones: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        if r["kind"] == "subnet":
            zone = r["attrs"].get("zone") or (r.get("actual") or {}).get("zone") or "?"
            cidr = (r.get("actual") or {}).get("cidr")
            zones.setdefault(zone, []).append(
                {"name": r["name"], "status": r["status"], "cidr": cidr, "hosts": hosts_by_subnet.get(r["name"], [])}
            )
    return {
        "data_center": dc,
        "vpc": vpc,
        "zones": [{"zone": z, "subnets": s} for z, s in zones.items()],
        "others": [r for r in rows if r["kind"] in ("route_table", "security_group")],
    }


def report() -> dict[str, Any]:
    import yaml

    path = design_file()
    out: dict[str, Any] = {"design_file": str(path), "network": [], "apps": [], "errors": [], "topology": None}
    try:
        design = yaml.safe_load(path.read_text(encoding="utf-8"))
        expected = expected_network(design)
    except Exception as e:  # a missing or invalid design is shown, not a 500
        out["errors"].append(f"design {path}: {type(e).__name__}: {e}")
        return out
    kinds = ["data_center", "vpc", "subnet", "route_table", "security_group", "host", "app"]
    try:
        actual = cmdb.query([{"callbackParameter": k, "type": k} for k in kinds])
    except cmdb.CmdbUnavailable as e:
        out["errors"].append(f"the CMDB could not be read: {e}")
        actual = {}
    out["network"] = compare_network(expected, actual)
    out["apps"] = app_health(actual.get("app", []))
    out["topology"] = topology(out["network"], actual, out["apps"])
    out["summary"] = {s: sum(r["status"] == s for r in out["network"]) for s in ("ok", "missing", "extra", "changed")}
    return out


@router.get("/api/designs")
def api_designs() -> dict[str, Any]:
    """The network design against the CMDB, and each app's desired instances against Prometheus ``up``."""
    return report()


@router.get("/designs")
def page_designs(request: Request):
    return render(request, "designs.html", active="designs", r=report())
