"""The WeCube page in the Airflow UI and JSON endpoints for the plugin registry.

Registered through the ``airflow.plugins`` entry point. Every endpoint requires an Airflow login
(the UI's session cookie or an API bearer token), since plugin apps are not behind Airflow auth
by themselves.
"""

from __future__ import annotations

import html

from fastapi import Depends, FastAPI
from fastapi.responses import HTMLResponse

from airflow.api_fastapi.core_api.security import get_user
from airflow.plugins_manager import AirflowPlugin

from airflow_wecube.ui.hitl_settle import HITLAnswerSettleMiddleware

app = FastAPI(title="WeCube", dependencies=[Depends(get_user)])


def _services() -> list[dict]:
    from airflow_wecube.config import default_registry

    return [s.summary() for s in default_registry().services()]


@app.get("/api/plugins")
def list_services() -> list[dict]:
    """Every registered service (highest version of each package), as ``wecube plugins list --json``."""
    return _services()


@app.get("/", response_class=HTMLResponse)
def page() -> str:
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(r[k]))}</td>" for k in ("service", "version", "method", "path", "type"))
        + f"<td>{html.escape(', '.join(r['inputs']))}</td></tr>"
        for r in _services()
    )
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>WeCube plugins</title>
<style>body{{font-family:sans-serif;margin:1.5em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:.3em .6em;text-align:left;font-size:.9em}}</style></head>
<body><h2>Registered WeCube plugin services</h2>
<table><tr><th>service</th><th>version</th><th>method</th><th>path</th><th>type</th><th>inputs</th></tr>{rows}</table>
<p>Register more with <code>wecube plugins register PATH</code>.</p></body></html>"""


class WeCubeAirflowPlugin(AirflowPlugin):
    name = "wecube"
    fastapi_apps = [{"app": app, "url_prefix": "/wecube", "name": "WeCube"}]
    # holds an answer to a just-parked HITL request (Airflow 3.3.2 race; see ui/hitl_settle.py)
    fastapi_root_middlewares = [
        {"middleware": HITLAnswerSettleMiddleware, "args": [], "kwargs": {}, "name": "wecube_hitl_settle"}
    ]
    external_views = [
        {"name": "WeCube plugins", "href": "/wecube/", "destination": "nav", "url_route": "wecube"},
    ]
