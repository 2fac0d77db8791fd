"""PrometheusHook connection handling (no server needed)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest

from airflow_wecube.hooks.prometheus import PrometheusHook
from airflow_wecube.prometheus.errors import PrometheusConfigError, PrometheusUnreachableError


def test_hook_metadata():
    assert PrometheusHook.conn_name_attr == "prometheus_conn_id"
    assert PrometheusHook.default_conn_name == "prometheus_default"
    assert PrometheusHook.conn_type == "prometheus"
    assert PrometheusHook.hook_name == "Prometheus"
    assert PrometheusHook().prometheus_conn_id == "prometheus_default"


def test_unreachable_prometheus_says_so(monkeypatch):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv(
        "AIRFLOW_CONN_PROMETHEUS_DEFAULT", json.dumps({"conn_type": "prometheus", "host": f"http://127.0.0.1:{port}"})
    )
    with pytest.raises(PrometheusUnreachableError, match=f"127.0.0.1:{port} is unreachable"):
        PrometheusHook().query("up")
    ok, message = PrometheusHook().test_connection()
    assert not ok and "unreachable" in message


def test_unreachable_prometheus_in_a_range_query_says_so(monkeypatch):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv(
        "AIRFLOW_CONN_PROMETHEUS_DEFAULT", json.dumps({"conn_type": "prometheus", "host": f"http://127.0.0.1:{port}"})
    )
    hook = PrometheusHook()
    hook.range_concurrency = 2
    with pytest.raises(PrometheusUnreachableError, match=f"127.0.0.1:{port} is unreachable"):
        hook.query_range_frame({"a": "up", "b": "up"}, 0, 3 * 86400, "15s")  # 4 chunks, 2 in flight


def test_missing_folder_config_is_a_clear_error(monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_PROMETHEUS_DEFAULT", json.dumps({"conn_type": "prometheus", "host": "http://127.0.0.1:1"})
    )
    with pytest.raises(PrometheusConfigError, match="no extra 'file_sd_dir'"):
        PrometheusHook().register_targets("web", ["a:1"])


def test_importing_the_hook_stays_light():
    code = (
        "import sys, airflow_wecube.hooks.prometheus, airflow_wecube.sensors.prometheus, "
        "airflow_wecube.operators.prometheus, airflow_wecube.triggers.prometheus;"
        "print(sorted(m for m in ('pandas', 'numpy', 'requests', 'prometheus_api_client') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
