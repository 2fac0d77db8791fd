"""The WeCube FastAPI app mounted by Airflow's API server at ``/wecube`` (below ``[api] base_url``'s path).

Every page has a JSON twin under ``/api``; every route requires an Airflow login with the right
permission (:mod:`airflow_wecube.ui.auth`). Everything is read-only, but for two routes without an
Airflow login: ``POST /alerts`` (:mod:`airflow_wecube.ui.alert_webhook`), Alertmanager's webhook, authenticated
by the shared secret of the ``alertmanager_default`` connection; and ``POST /callback/<token>``
(:mod:`airflow_wecube.ui.callbacks`), where asynchronous plugins POST results, the per-call token in
the URL being the credential.
"""

from __future__ import annotations

from airflow.api_fastapi.core_api.security import get_user
from fastapi import Depends, FastAPI


def create_app() -> FastAPI:
    """A new app with every page (a factory, so tests and the plugin each get their own)."""
    from airflow_wecube.ui import actions, alerts, callbacks, capacity, cmdb, designs, inbox, plugins

    app = FastAPI(title="WeCube", docs_url=None, redoc_url=None, openapi_url=None)
    login = [Depends(get_user)]
    for module in (plugins, inbox, capacity, cmdb, designs, actions):
        app.include_router(module.router, dependencies=login)
    # Alertmanager's webhook: the bearer secret instead of a login (ui/alerts.py)
    app.include_router(alerts.router)
    # plugins POST asynchronous results here without an Airflow login: the per-call token in the URL
    # is the credential (ui/callbacks.py)
    app.mount("/callback", callbacks.create_app())
    return app
