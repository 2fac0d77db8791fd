"""The WeCube pages' login over HTTP (uvicorn on loopback, the session's Airflow): no valid login is 401,
whatever way the token is not valid, as docs/ui.md says (Airflow's own check says 403 for a token it
cannot decode)."""

from __future__ import annotations

import pytest
import requests

from tests.integration.ui.test_callbacks import receiver  # noqa: F401  (the WeCube app on loopback)

pytestmark = pytest.mark.integration

PATHS = (
    *(f"/wecube/api/{p}" for p in ("plugins", "inbox", "capacity", "cmdb", "designs", "actions")),
    *(f"/wecube/{p}" for p in ("", "inbox", "capacity", "cmdb", "designs", "actions")),
)


@pytest.fixture(scope="module")
def auth_manager(receiver):  # noqa: F811
    """Airflow's auth manager, set up as the API server does at its start (simple auth manager)."""
    from airflow.api_fastapi import app

    manager = app.init_auth_manager()
    try:
        yield manager
    finally:
        app._AuthManagerState.instance = None


@pytest.mark.parametrize(
    ("headers", "cookies"),
    [
        ({}, {}),
        ({"Authorization": "Bearer not-a-jwt"}, {}),
        ({"Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"}, {}),
        ({}, {"_token": "not-a-jwt"}),
    ],
    ids=["none", "bearer-garbage", "bearer-forged", "cookie-garbage"],
)
def test_no_valid_login_is_401_on_every_page(receiver, auth_manager, headers, cookies):  # noqa: F811
    for path in PATHS:
        r = requests.get(receiver + path, headers=headers, cookies=cookies, timeout=30)
        assert r.status_code == 401, (path, r.status_code, r.text)
        assert "token" not in headers or headers["Authorization"] not in r.text


def test_a_valid_login_gets_through(receiver, auth_manager):  # noqa: F811
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    token = auth_manager.generate_jwt(SimpleAuthManagerUser(username="admin", role="admin"))
    for path in PATHS:
        r = requests.get(receiver + path, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        assert r.status_code not in (401, 403), (path, r.status_code, r.text[:300])
