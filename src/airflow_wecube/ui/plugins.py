"""Plugins page: registered packages and versions, each interface's parameters, the DAGs that use it
and its last calls (task instances of ``WeCubePluginOperator`` whose rendered ``service`` is it)."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request

from airflow_wecube.ui import links
from airflow_wecube.ui.auth import READ_PLUGINS
from airflow_wecube.ui.history import rendered_tasks
from airflow_wecube.ui.render import Page, render

router = APIRouter(dependencies=READ_PLUGINS)

_PIN = re.compile(r"^([^/@]+)@[^/]+/")


def _registry():
    from airflow_wecube.registry import default_registry

    return default_registry()


def _param(p) -> dict[str, Any]:
    return {
        "name": p.name,
        "datatype": p.datatype,
        "required": p.required,
        "sensitive": p.sensitive,
        "mapping_type": p.mapping_type,
        "multiple": p.multiple,
        "description": p.description,
    }


def service_row(svc) -> dict[str, Any]:
    """One interface with typed parameters (definitions only: a manifest holds no values, so nothing to mask)."""
    i = svc.interface
    return {
        "service": svc.name,
        "package": svc.package,
        "version": svc.version,
        "plugin": svc.plugin,
        "register_name": svc.register_name,
        "action": i.action,
        "method": i.http_method,
        "path": i.path,
        "protocol": "WeCube plugin protocol (JSON over HTTP" + (", asynchronous callback)" if i.is_async else ")"),
        "async": i.is_async,
        "type": i.type,
        "description": i.description,
        "inputs": [_param(p) for p in i.inputs],
        "outputs": [_param(p) for p in i.outputs],
    }


def packages() -> list[dict[str, Any]]:
    """Every package with all its registered versions, highest first (versions live side by side)."""
    return [
        {"package": name, "versions": list(reversed(versions)), "latest": versions[-1] if versions else None}
        for name, versions in sorted(_registry().packages().items())
    ]


def services(q: str = "", all_versions: bool = False) -> list[dict[str, Any]]:
    rows = [service_row(s) for s in _registry().services(all_versions=all_versions)]
    if q:
        needle = q.lower()
        rows = [
            r
            for r in rows
            if needle in r["service"].lower() or needle in r["description"].lower() or needle in r["path"].lower()
        ]
    return rows


def _unpinned(name: str) -> str:
    return _PIN.sub(r"\1/", name.strip())


def dags_using(service: str) -> list[dict[str, Any]]:
    """DAG files under the DAGs folder that name the service (a plain text search, cheap and honest)."""
    from airflow_wecube.config import dags_folder

    folder = dags_folder()
    found = []
    if folder.is_dir():
        for path in sorted(folder.rglob("*.py")):
            try:
                text = path.read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            if service in text:
                found.append({"file": str(path.relative_to(folder))})
    return found


def last_calls(service: str, limit: int = 10, dag_ids: set[str] | None = None) -> list[dict[str, Any]]:
    """The newest task instances whose rendered ``service`` field is this service (any pinned version)."""
    calls: list[dict[str, Any]] = []
    for row in rendered_tasks():
        fields = row.rendered_fields or {}
        rendered = fields.get("service") if isinstance(fields, dict) else None
        if not isinstance(rendered, str) or _unpinned(rendered) != service:
            continue
        if dag_ids is not None and row.dag_id not in dag_ids:
            continue
        calls.append(
            {
                "dag_id": row.dag_id,
                "run_id": row.run_id,
                "task_id": row.task_id,
                "map_index": row.map_index,
                "state": str(row.state.value if hasattr(row.state, "value") else row.state) if row.state else None,
                "start_date": row.start_date.isoformat() if row.start_date else None,
                "end_date": row.end_date.isoformat() if row.end_date else None,
                "try_number": row.try_number,
                "log_url": links.log_url(row.dag_id, row.run_id, row.task_id, row.map_index),
            }
        )
        if len(calls) >= limit:
            break
    return calls


def service_detail(name: str, version: str | None = None) -> dict[str, Any]:
    from airflow_wecube.exceptions import WeCubeError

    try:
        svc = _registry().service(name, version or None)
    except (WeCubeError, KeyError, ValueError) as e:
        raise HTTPException(
            404, f"no registered service {name!r}" + (f" version {version}" if version else "") + f": {e}"
        ) from None
    row = service_row(svc)
    row["versions"] = _registry().packages().get(svc.package, [])
    row["used_by"] = dags_using(svc.name)
    row["last_calls"] = last_calls(svc.name)
    for call in row["last_calls"]:
        if call["dag_id"] not in {d.get("dag_id") for d in row["used_by"]}:
            row["used_by"].append({"dag_id": call["dag_id"], "dag_url": links.dag_url(call["dag_id"])})
    return row


@router.get("/api/plugins")
def api_plugins(page: Page = Depends(), q: str = "", all_versions: bool = False) -> dict[str, Any]:
    """Registered interfaces (highest version of each package, or all with ``all_versions=true``), paginated."""
    return {**page.slice(services(q, all_versions)), "packages": packages()}


@router.get("/api/plugins/service")
def api_service(
    name: str = Query(..., description="service name, e.g. cmdb/ci/query"), version: str = ""
) -> dict[str, Any]:
    """One interface: parameters, the DAGs that use it, its last calls."""
    return service_detail(name, version)


@router.get("/")
def page_plugins(request: Request, page: Page = Depends(), q: str = "", all_versions: bool = False):
    return render(
        request,
        "plugins.html",
        active="",
        listing=page.slice(services(q, all_versions)),
        packages=packages(),
        q=q,
        all_versions=all_versions,
    )


@router.get("/service")
def page_service(request: Request, name: str = Query(...), version: str = ""):
    return render(request, "service.html", active="", svc=service_detail(name, version))
