"""Capacity models: each model's versions (baseline, accepted, drift, gate-failed), the accepted formula
with 95 % intervals, R², VIF, headroom, drift verdicts over time and the stored plot."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse

from airflow_wecube.ui.auth import READ_PLUGINS
from airflow_wecube.ui.render import Page, render

router = APIRouter(dependencies=READ_PLUGINS)


def _store():
    """The ``[wecube] capacity_store`` store, or an error message a person can act on."""
    from airflow_wecube.capacity.airflow import open_store
    from airflow_wecube.exceptions import WeCubeError

    try:
        return open_store(None), None
    except WeCubeError as e:
        return None, f"{e} (set [wecube] capacity_store, e.g. AIRFLOW__WECUBE__CAPACITY_STORE=/path/to/store)"


def _fit_summary(record: dict[str, Any] | None) -> dict[str, Any] | None:
    if not record:
        return None
    fit = record.get("fit") or {}
    return {
        "version": record.get("version"),
        "created_at": record.get("created_at"),
        "formula": fit.get("formula"),
        "r2": fit.get("r2"),
        "adj_r2": fit.get("adj_r2"),
        "n": fit.get("n"),
        "coefficients": fit.get("coefficients") or {},
        "intercept": fit.get("intercept") or {},
        "vif": fit.get("vif") or {},
        "headroom": fit.get("headroom"),
        "warnings": fit.get("warnings") or [],
        "standard_errors": (fit.get("inference") or {}).get("cov_type", "nonrobust"),
        "window": record.get("window") or {},
        "has_plot": bool(record.get("plot")),
    }


def model_summary(store, model: str, versions_limit: int = 10) -> dict[str, Any]:
    from airflow_wecube.capacity.pipeline import list_versions

    listing = list_versions(store, model)
    newest_first = list(reversed(listing["versions"]))
    drift = []
    for row in newest_first:
        if row["drift_found"] is not None:
            record = store.load_version(model, row["version"])
            drift.append(
                {
                    "version": row["version"],
                    "created_at": row["created_at"],
                    "found": row["drift_found"],
                    "compared_with": row["compared_with"],
                    "messages": (record.get("drift") or {}).get("messages", []),
                }
            )
    return {
        "model": model,
        "baseline_version": listing["baseline_version"],
        "baseline": _fit_summary(store.baseline(model)),
        "latest": _fit_summary(store.load_version(model, newest_first[0]["version"])) if newest_first else None,
        "version_count": len(newest_first),
        "versions": newest_first[:versions_limit] if versions_limit else newest_first,
        "drift": drift[:versions_limit] if versions_limit else drift,
        "history": listing["history"],
        "probes": [],  # release probes (CapacityProbeOperator) are listed here once that issue lands
    }


def models(page: Page, model: str = "") -> tuple[dict[str, Any], str | None]:
    store, error = _store()
    if store is None:
        return page.slice([]), error
    names = store.models()
    if model:
        if model not in names:
            raise HTTPException(404, f"no capacity model {model!r} in {store} (models: {', '.join(names) or 'none'})")
        summary = model_summary(store, model, versions_limit=0)
        listing = page.slice(summary.pop("versions"))
        return {**listing, "model": summary}, None
    listing = page.slice(names)
    listing["items"] = [model_summary(store, name) for name in listing["items"]]
    return listing, None


@router.get("/api/capacity")
def api_capacity(page: Page = Depends(), model: str = "") -> dict[str, Any]:
    """Models with their baseline fit and newest versions; with ``model=`` that model's versions, paginated."""
    listing, error = models(page, model)
    return {**listing, "error": error}


@router.get("/capacity/plot")
def capacity_plot(model: str, version: str):
    """The PNG stored with a fit (local stores; an object store's plot is read through its path object)."""
    from airflow_wecube.capacity.errors import StoreError

    store, error = _store()
    if store is None:
        raise HTTPException(404, error)
    try:
        path = store.plot_path(model, version)
    except StoreError as e:
        raise HTTPException(404, str(e)) from None
    if not path.exists():
        raise HTTPException(404, f"model {model!r} version {version!r} has no stored plot")
    if store.local:
        return FileResponse(path, media_type="image/png")
    from fastapi.responses import Response

    with path.open("rb") as f:
        return Response(f.read(), media_type="image/png")


@router.get("/capacity")
def page_capacity(request: Request, page: Page = Depends(), model: str = ""):
    listing, error = models(page, model)
    return render(request, "capacity.html", active="capacity", listing=listing, error=error, model=model)
