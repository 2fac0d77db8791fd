"""HTML for the WeCube pages: Jinja2 templates with autoescape, so text from manifests, the CMDB or
alerts is always shown as text (a ``<script>`` in a description stays visible, never runs)."""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import urlencode

from fastapi import Query, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from airflow_wecube.ui.links import airflow_root

env = Environment(
    loader=PackageLoader("airflow_wecube.ui", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)

#: the pages, in nav order: (path below the app, title)
PAGES = (
    ("", "Plugins"),
    ("inbox", "Manual work"),
    ("capacity", "Capacity models"),
    ("cmdb", "CMDB"),
    ("designs", "Design vs reality"),
    ("actions", "Loop actions"),
    ("processes", "Processes"),
)

MAX_LIMIT = 500


class Page:
    """``offset``/``limit`` query parameters of a list, and the links to the pages around it."""

    def __init__(self, offset: int = Query(0, ge=0), limit: int = Query(50, ge=1, le=MAX_LIMIT)):
        self.offset = offset
        self.limit = limit

    def slice(self, items: list[Any]) -> dict[str, Any]:
        return {
            "total": len(items),
            "offset": self.offset,
            "limit": self.limit,
            "items": items[self.offset : self.offset + self.limit],
        }


def app_root(request: Request) -> str:
    """The app's own path (``[api] base_url``'s path + ``/wecube``), as the server mounted it."""
    return request.scope.get("root_path", "").rstrip("/")


def render(request: Request, template: str, *, active: str, **context: Any) -> HTMLResponse:
    root = app_root(request)

    def page_url(listing: dict[str, Any], offset: int) -> str:
        params = {k: v for k, v in request.query_params.items() if k != "offset"}
        params["offset"] = str(max(0, offset))
        return "?" + urlencode(params)

    def pager(listing: dict[str, Any]) -> dict[str, Any]:
        total, offset, limit = listing["total"], listing["offset"], listing["limit"]
        return {
            "first": offset + 1 if total else 0,
            "last": min(total, offset + limit),
            "total": total,
            "page": offset // limit + 1,
            "pages": max(1, math.ceil(total / limit)),
            "prev": page_url(listing, offset - limit) if offset > 0 else None,
            "next": page_url(listing, offset + limit) if offset + limit < total else None,
        }

    html = env.get_template(template).render(
        root=root, airflow=airflow_root(), pages=PAGES, active=active, pager=pager, **context
    )
    return HTMLResponse(html)
