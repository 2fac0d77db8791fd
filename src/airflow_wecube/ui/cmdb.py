"""CMDB: configuration items read through the registered CMDB plugin's query interface (the registry
and :class:`~airflow_wecube.hooks.plugin.WeCubePluginHook`, never the sandbox's database), with
search, one record's attributes and its history (the task instances whose inputs named it)."""

from __future__ import annotations

import functools
import json
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request

from airflow_wecube.protocol.result import MASK
from airflow_wecube.ui import links
from airflow_wecube.ui.auth import READ_PLUGINS, readable_dag_ids
from airflow_wecube.ui.history import rendered_tasks
from airflow_wecube.ui.render import Page, render
from airflow_wecube.util.secrets import secret_name

router = APIRouter(dependencies=READ_PLUGINS)


def query_service() -> str:
    """``[wecube] cmdb_query_service``."""
    from airflow_wecube.config import get

    return get("cmdb_query_service")


def ci_types() -> list[str]:
    """``[wecube] cmdb_types`` (by default the CI types the sandbox plugins write)."""
    from airflow_wecube.config import get

    return get("cmdb_types")


@functools.lru_cache(maxsize=4096)
def _secret_key(key: str) -> bool:
    return secret_name(key)


def masked(value: Any) -> Any:
    """Attributes with a secret-looking key show as ``***`` at any depth (the CMDB may hold one by mistake).

    Runs over every record of a listing before search and paging (a search must not find a record by
    its secret), so it only recurses into containers.
    """
    if isinstance(value, dict):
        if not any(isinstance(v, (dict, list)) or _secret_key(str(k)) for k, v in value.items()):
            return value  # nothing to hide below: no copy (most records' attributes)
        return {
            k: MASK
            if _secret_key(str(k)) and v not in (None, "", [], {})
            else (masked(v) if isinstance(v, (dict, list)) else v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [masked(v) if isinstance(v, (dict, list)) else v for v in value]
    return value


class CmdbUnavailable(Exception):
    """The CMDB plugin could not be asked (not registered, no connection, plugin down)."""


def query(entities: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """One batched call of the query interface: ``{callbackParameter: items}``."""
    from airflow_wecube.hooks.plugin import WeCubePluginHook

    try:
        result = WeCubePluginHook().call(query_service(), entities, operator="wecube-ui")
    except Exception as e:  # shown on the page; the message never carries the token (the hook masks it)
        raise CmdbUnavailable(f"{query_service()}: {type(e).__name__}: {e}") from None
    return {str(o.get("callbackParameter")): [masked(i) for i in (o.get("items") or [])] for o in result.outputs}


def records(ci_type: str, q: str = "") -> list[dict[str, Any]]:
    items = query([{"callbackParameter": "q", "type": ci_type}]).get("q", [])
    if q:
        needle = q.lower()
        items = [
            i
            for i in items
            if needle in i.get("name", "").lower()
            or needle in i.get("guid", "").lower()
            or needle in json.dumps(i.get("attributes"), default=str).lower()
        ]
    return items


def history(ci: dict[str, Any], dag_ids: set[str] | None = None, limit: int = 20) -> list[dict[str, Any]]:
    """Task instances whose rendered inputs name the record's guid (newest first, at most ``limit``)."""
    needles = [ci["guid"], f'"name": {json.dumps(ci["name"])}']
    out = []
    for r in rendered_tasks():
        if dag_ids is not None and r.dag_id not in dag_ids:
            continue
        text = json.dumps(r.rendered_fields, default=str)
        if not any(n in text for n in needles):
            continue
        fields = r.rendered_fields if isinstance(r.rendered_fields, dict) else {}
        out.append(
            {
                "dag_id": r.dag_id,
                "run_id": r.run_id,
                "task_id": r.task_id,
                "map_index": r.map_index,
                "service": fields.get("service"),
                "state": r.state.value if hasattr(r.state, "value") else r.state,
                "when": r.start_date.isoformat() if r.start_date else None,
                "log_url": links.log_url(r.dag_id, r.run_id, r.task_id, r.map_index),
            }
        )
        if len(out) >= limit:
            break
    return out


def record(ci_type: str, guid: str, dag_ids: set[str] | None = None) -> dict[str, Any]:
    items = query([{"callbackParameter": "q", "type": ci_type, "guid": guid}]).get("q", [])
    if not items:
        raise HTTPException(404, f"no {ci_type} record with guid {guid!r} in the CMDB")
    return {**items[0], "history": history(items[0], dag_ids)}


def paged(ci_type: str, page: Page) -> dict[str, Any] | None:
    """One page of the type's records through the CMDB's entity API (docs/data-model.md), which reads
    only that page; ``None`` when the CMDB serves no entity API, or none for this type."""
    from airflow_wecube.hooks.entities import entity_api
    from airflow_wecube.hooks.plugin import WeCubePluginHook

    package = query_service().split("/", 1)[0]
    try:
        api = entity_api(WeCubePluginHook)
        if ci_type not in api.data_model(package).entities:
            return None
        rows, total = api.page(package, ci_type, start=page.offset, size=page.limit)
    except Exception:  # no connection, no entity API: the query interface answers (or says why not)
        return None
    skip = ("id", "displayName", "name")
    items = [
        {"guid": r["id"], "type": ci_type, "name": r.get("name") or r.get("displayName"),
         "attributes": masked({k: v for k, v in r.items() if k not in skip and v is not None})}
        for r in rows
    ]  # fmt: skip
    return {"total": total, "offset": page.offset, "limit": page.limit, "items": items}


def _listing(page: Page, ci_type: str, q: str) -> tuple[dict[str, Any], str | None]:
    try:
        if not q and (listing := paged(ci_type, page)) is not None:
            return listing, None
        return page.slice(records(ci_type, q)), None
    except CmdbUnavailable as e:
        return page.slice([]), str(e)


@router.get("/api/cmdb")
def api_cmdb(page: Page = Depends(), type: str = "", q: str = "") -> dict[str, Any]:
    """CI types, and the records of ``type`` (search ``q`` in name, guid and attributes), paginated."""
    types = ci_types()
    ci_type = type or types[0]
    listing, error = _listing(page, ci_type, q)
    if error:
        raise HTTPException(502, error)
    return {**listing, "type": ci_type, "types": types, "service": query_service()}


@router.get("/api/cmdb/record")
def api_record(type: str, guid: str, dag_ids: set[str] = Depends(readable_dag_ids)) -> dict[str, Any]:
    """One record's attributes and history."""
    try:
        return record(type, guid, dag_ids)
    except CmdbUnavailable as e:
        raise HTTPException(502, str(e)) from None


@router.get("/cmdb")
def page_cmdb(request: Request, page: Page = Depends(), type: str = "", q: str = ""):
    types = ci_types()
    ci_type = type or types[0]
    listing, error = _listing(page, ci_type, q)
    return render(
        request,
        "cmdb.html",
        active="cmdb",
        listing=listing,
        error=error,
        types=types,
        ci_type=ci_type,
        q=q,
        service=query_service(),
    )


@router.get("/cmdb/record")
def page_record(request: Request, type: str, guid: str, dag_ids: set[str] = Depends(readable_dag_ids)):
    try:
        ci, error = record(type, guid, dag_ids), None
    except CmdbUnavailable as e:
        ci, error = None, str(e)
    return render(
        request,
        "cmdb_record.html",
        active="cmdb",
        ci=ci,
        error=error,
        ci_type=type,
        guid=guid,
        pretty=lambda v: json.dumps(v, indent=2, default=str, ensure_ascii=False),
    )
