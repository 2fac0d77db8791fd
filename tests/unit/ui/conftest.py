"""A WeCube app with Airflow's permission checks answered "yes" (the real checks run in tests/e2e)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient


@pytest.fixture
def ui_client(plugin_registry, airflow_db):
    from airflow.api_fastapi.core_api.security import get_user

    from airflow_wecube.ui import auth
    from airflow_wecube.ui.app import create_app

    app = create_app()
    for dep in (*auth.READ_PLUGINS, *auth.READ_APPROVALS, *auth.READ_RUNS):
        app.dependency_overrides[dep.dependency] = lambda: None
    app.dependency_overrides[get_user] = lambda: object()
    app.dependency_overrides[auth.login] = lambda: object()
    app.dependency_overrides[auth.readable_dag_ids] = lambda: None
    return TestClient(app)
