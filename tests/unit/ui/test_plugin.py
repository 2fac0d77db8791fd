from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from airflow_wecube.ui.plugin import WeCubeAirflowPlugin, app


def test_endpoints_require_an_airflow_login():
    client = TestClient(app)
    assert client.get("/api/plugins").status_code == 401
    assert client.get("/").status_code == 401


def test_registry_listing_when_logged_in(plugin_registry):
    from airflow.api_fastapi.core_api.security import get_user

    app.dependency_overrides[get_user] = lambda: object()
    try:
        client = TestClient(app)
        rows = client.get("/api/plugins").json()
        assert "cmdb/ci/create" in {r["service"] for r in rows}
        page = client.get("/")
        assert page.status_code == 200 and "cmdb/ci/create" in page.text
    finally:
        app.dependency_overrides.clear()


def test_plugin_declares_app_and_nav_entry():
    assert WeCubeAirflowPlugin.fastapi_apps[0]["url_prefix"] == "/wecube"
    assert WeCubeAirflowPlugin.external_views[0]["href"] == "/wecube/"
