from __future__ import annotations

from fastapi.testclient import TestClient

from airflow_wecube.ui.airflow_plugin import WeCubeAirflowPlugin, app, external_views


def test_endpoints_require_an_airflow_login():
    client = TestClient(app)
    for path in (
        "/",
        "/api/plugins",
        "/inbox",
        "/api/inbox",
        "/capacity",
        "/api/capacity",
        "/cmdb",
        "/api/cmdb",
        "/designs",
        "/api/designs",
        "/actions",
        "/api/actions",
        "/service?name=x",
        "/capacity/plot?model=a&version=b",
    ):
        assert client.get(path).status_code == 401, path


def test_plugin_declares_app_and_one_nav_entry_per_page():
    assert WeCubeAirflowPlugin.fastapi_apps[0]["url_prefix"] == "/wecube"
    views = WeCubeAirflowPlugin.external_views
    assert [v["href"] for v in views] == [
        "/wecube/",
        "/wecube/inbox",
        "/wecube/capacity",
        "/wecube/cmdb",
        "/wecube/designs",
        "/wecube/actions",
    ]
    assert all(v["destination"] == "nav" and v["url_route"].startswith("wecube") for v in views)
    assert len({v["url_route"] for v in views}) == len(views)


def test_nav_links_carry_the_base_url_path(monkeypatch):
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "https://example.org/airflow/")
    assert [v["href"] for v in external_views()][:2] == ["/airflow/wecube/", "/airflow/wecube/inbox"]


def test_links_into_airflow_carry_the_base_url_path(monkeypatch):
    from airflow_wecube.ui import links

    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "https://example.org/airflow")
    assert links.required_actions_url() == "/airflow/required_actions"
    assert links.task_url("d", "manual__2026-01-01T00:00:00+00:00", "t", 3) == (
        "/airflow/dags/d/runs/manual__2026-01-01T00%3A00%3A00%2B00%3A00/tasks/t/mapped/3"
    )


def test_only_the_alert_webhook_is_outside_the_airflow_login():
    """Every route depends on Airflow's login but POST /alerts, which checks the bearer secret itself."""
    from airflow.api_fastapi.core_api.security import get_user
    from fastapi.routing import APIRoute

    def depends_on_login(route: APIRoute) -> bool:
        stack = list(route.dependant.dependencies)
        while stack:
            dep = stack.pop()
            if dep.call is get_user:
                return True
            stack.extend(dep.dependencies)
        return False

    routes = [r for r in app.routes if isinstance(r, APIRoute)]
    open_routes = {(r.path, tuple(sorted(r.methods))) for r in routes if not depends_on_login(r)}
    assert open_routes == {("/alerts", ("POST",))}
    assert len(routes) > 10
