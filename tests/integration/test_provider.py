"""The provider as Airflow sees it: `airflow providers list`, connection types, connections add."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

AIRFLOW = str(Path(sys.executable).parent / "airflow")


def airflow(*args):
    return subprocess.run([AIRFLOW, *args], capture_output=True, text=True, env=os.environ.copy(), timeout=300)


def test_providers_list_shows_us(airflow_db):
    r = airflow("providers", "list", "-o", "json")
    assert r.returncode == 0, r.stderr[-2000:]
    names = {p["package_name"] for p in json.loads(r.stdout)}
    assert "airflow-provider-wecube" in names


def test_connection_types_and_add(airflow_db):
    from airflow.providers_manager import ProvidersManager

    hooks = ProvidersManager().hooks
    assert hooks["wecube"].hook_class_name == "airflow_wecube.hooks.plugin.WeCubePluginHook"
    assert hooks["prometheus"].hook_class_name == "airflow_wecube.hooks.prometheus.PrometheusHook"
    assert hooks["alertmanager"].hook_class_name == "airflow_wecube.hooks.alertmanager.AlertmanagerHook"
    r = airflow(
        "connections",
        "add",
        "wecube_cli_test",
        "--conn-type",
        "wecube",
        "--conn-host",
        "http://127.0.0.1:19090",
        "--conn-password",
        "tok-cli-secret",
    )
    assert r.returncode == 0, r.stderr[-2000:]
    r = airflow("connections", "get", "wecube_cli_test", "-o", "json")
    conn = json.loads(r.stdout)[0]
    assert conn["conn_type"] == "wecube" and conn["host"] == "http://127.0.0.1:19090"


def test_ui_plugin_entry_point_is_found_once():
    """Twice (an editable install's src/*.egg-info on sys.path) shows a plugin import error in the UI."""
    from airflow.utils.entry_points import entry_points_with_dist

    found = [dist for ep, dist in entry_points_with_dist("airflow.plugins") if ep.name == "wecube"]
    assert len(found) == 1, f"the wecube plugin is registered by {len(found)} distributions: run `make install`"
