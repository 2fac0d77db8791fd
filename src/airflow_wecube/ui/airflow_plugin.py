"""The WeCube section of the Airflow UI: nav entries rendered in Airflow's frame, served by the FastAPI
app of :mod:`airflow_wecube.ui.app`.

Registered through the ``airflow.plugins`` entry point. The app is mounted at ``/wecube`` below
``[api] base_url``'s path; the nav links carry that path too, so Airflow behind a path prefix works.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from airflow_wecube.compat.hitl_settle import HITLAnswerSettleMiddleware
from airflow_wecube.ui.app import create_app
from airflow_wecube.ui.links import airflow_root
from airflow_wecube.ui.render import PAGES

app = create_app()


def external_views(root: str | None = None) -> list[dict[str, str]]:
    """One nav entry per page, under Plugins → WeCube, each opened inside Airflow's frame."""
    root = airflow_root() if root is None else root
    return [
        {
            "name": title,
            "href": f"{root}/wecube/{path}",
            "destination": "nav",
            "category": "WeCube",
            "url_route": f"wecube-{path}" if path else "wecube",
        }
        for path, title in PAGES
    ]


class WeCubeAirflowPlugin(AirflowPlugin):
    name = "wecube"
    fastapi_apps = [{"app": app, "url_prefix": "/wecube", "name": "WeCube"}]
    # holds an answer to a just-parked HITL request (Airflow 3.3.2 race; see ui/hitl_settle.py)
    fastapi_root_middlewares = [
        {"middleware": HITLAnswerSettleMiddleware, "args": [], "kwargs": {}, "name": "wecube_hitl_settle"}
    ]
    external_views = external_views()
