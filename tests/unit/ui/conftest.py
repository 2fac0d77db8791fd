"""A WeCube app with Airflow's login and permission checks answered "yes" (tests/fixtures/ui_app.py)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient


@pytest.fixture
def ui_client(plugin_registry, airflow_db):
    from tests.fixtures.ui_app import open_app

    return TestClient(open_app())
