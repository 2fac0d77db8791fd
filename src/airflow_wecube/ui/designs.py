"""Design vs reality: the network design and each app's instances against the CMDB's records and
what the owning plugins report now (``missing`` / ``changed`` / ``extra`` / ``stale_record``, per
resource, with what the next ``wecube_reconcile`` run would do), each app's instances against
Prometheus ``up``, and the same drawn as a picture (data center → VPC → zones → subnets → hosts → apps).

The comparison is the reconcile's own (:func:`airflow_wecube.orchestrations.reconcile.compare_now`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request

from airflow_wecube.ui import cmdb
from airflow_wecube.ui.auth import READ_PLUGINS
from airflow_wecube.ui.render import render

router = APIRouter(dependencies=READ_PLUGINS)


def design_file() -> Path:
    """``[wecube] network_design``, else ``designs/network.yml`` in the DAGs folder (what the DAG reads)."""
    from airflow_wecube.orchestrations.reconcile import design_file as path

    return path()


def expected_network(design: dict[str, Any]) -> list[dict[str, Any]]:
    """The resources a design asks for: kind, name and the attributes compared."""
    from airflow_wecube.reconcile.differences import expected_network as expected

    return expected(design)


def compare_network(
    expected: list[dict[str, Any]],
    actual: dict[str, list[dict[str, Any]]],
    real: dict[str, list[dict[str, Any]] | None] | None = None,
) -> list[dict[str, Any]]:
    """One row per resource (the reconcile's comparison; without ``real``, the record is reality)."""
    from airflow_wecube.reconcile.differences import compare_network as compare

    return compare(expected, actual, real)


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
                    up[s["labels"].get("instance", "")] = float(s["value"])
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


def _mode() -> tuple[str, str | None]:
    """The kill switch as the next reconcile will read it (``on`` when it cannot be read here)."""
    try:
        from airflow.models.variable import Variable

        from airflow_wecube.remediation.guard import VARIABLE, parse_mode

        return parse_mode(Variable.get(VARIABLE, default_var=None))
    except Exception:
        return "on", None


def _run_active(holder: str) -> bool | None:
    """Whether the run ``<dag_id>/<run_id>`` holding a lock is queued or running (the page's view of
    what ``remediation.airflow.run_is_active`` tells a task)."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    from airflow_wecube.remediation.airflow import ACTIVE_RUN_STATES

    dag_id, _, run_id = holder.partition("/")
    if not run_id:
        return None
    try:
        with create_session() as session:
            state = session.scalar(select(DagRun.state).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id))
    except Exception:  # the page still shows the differences: a lock then holds until its TTL
        return None
    return state is not None and str(getattr(state, "value", state)) in ACTIVE_RUN_STATES


def report() -> dict[str, Any]:
    from airflow_wecube.hooks.plugin import WeCubePluginHook
    from airflow_wecube.orchestrations.reconcile import compare_now, load_inputs, prometheus_predict, strategies_file
    from airflow_wecube.reconcile.differences import APP_INSTANCE, CLASSES, OK
    from airflow_wecube.reconcile.plan import next_action, plan

    path, spath = design_file(), strategies_file()
    out: dict[str, Any] = {
        "design_file": str(path),
        "strategies_file": str(spath),
        "network": [],
        "instances": [],
        "apps": [],
        "errors": [],
        "topology": None,
    }
    try:
        design, strategies = load_inputs(path, spath)
        expected_network(design)
    except Exception as e:  # a missing or invalid design or strategies file is shown, not a 500
        out["errors"].append(f"{type(e).__name__}: {e}")
        return out
    try:
        now = compare_now(WeCubePluginHook(), design, strategies, predict=prometheus_predict(), running=_run_active)
    except Exception as e:
        out["errors"].append(f"reality could not be read: {type(e).__name__}: {e}")
        return out
    out["errors"] += now["errors"]
    mode, _ = _mode()
    planned = plan(now["rows"], strategies, mode=mode, accepted=now["accepted"], rollouts=now["rollouts"])
    planned = {e["key"]: e for e in planned["entries"]}
    for row in now["rows"]:
        entry = planned.get(row["key"])
        row["next"] = next_action(entry) if entry else ""
        row.pop("inputs", None)
        row.pop("recorded", None)
    out["network"] = [r for r in now["rows"] if r["kind"] != APP_INSTANCE]
    out["instances"] = [r for r in now["rows"] if r["kind"] == APP_INSTANCE]
    out["desired"] = now["desired"]
    actual = {}
    try:
        actual = cmdb.query([{"callbackParameter": k, "type": k} for k in ("host", "app")])
    except cmdb.CmdbUnavailable as e:
        out["errors"].append(f"the CMDB could not be read: {e}")
    out["apps"] = app_health(actual.get("app", []))
    out["topology"] = topology(out["network"], actual, out["apps"])

    def count(rows: list[dict[str, Any]]) -> dict[str, int]:
        c = {s: sum(r["status"] == s and not r.get("accepted") for r in rows) for s in (OK, *CLASSES)}
        c["accepted"] = sum(bool(r.get("accepted")) for r in rows)
        return c

    out["summary"] = count(out["network"])
    out["instances_summary"] = count(out["instances"])
    return out


@router.get("/api/designs")
def api_designs() -> dict[str, Any]:
    """The network design against the CMDB, and each app's desired instances against Prometheus ``up``."""
    return report()


@router.get("/designs")
def page_designs(request: Request):
    return render(request, "designs.html", active="designs", r=report())
