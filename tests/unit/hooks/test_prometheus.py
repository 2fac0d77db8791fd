"""PrometheusHook connection handling (no server needed)."""

from __future__ import annotations

import json
import socket
import sys
import subprocess

import numpy as np
import pytest
from airflow.sdk import Connection

from airflow_wecube.hooks.prometheus import PrometheusHook, PrometheusSettings
from airflow_wecube.prometheus.errors import PrometheusConfigError, PrometheusError, PrometheusUnreachableError


def settings(**kw) -> PrometheusSettings:
    return PrometheusSettings.from_connection(Connection(conn_id="p", conn_type="prometheus", **kw))


def test_hook_metadata():
    assert PrometheusHook.conn_name_attr == "prometheus_conn_id"
    assert PrometheusHook.default_conn_name == "prometheus_default"
    assert PrometheusHook.conn_type == "prometheus"
    assert PrometheusHook.hook_name == "Prometheus"
    assert PrometheusHook().prometheus_conn_id == "prometheus_default"


@pytest.mark.parametrize(
    ("kw", "url"),
    [
        ({"host": "http://127.0.0.1:9090"}, "http://127.0.0.1:9090"),
        ({"host": "https://prom.example/prometheus/"}, "https://prom.example/prometheus"),
        ({"host": "http://prom.example", "port": 9091}, "http://prom.example:9091"),
        ({"host": "prom.example", "port": 9090}, "http://prom.example:9090"),
        ({"host": "prom.example", "port": 443, "schema": "https"}, "https://prom.example:443"),
        ({"host": "prom.example", "schema": "db"}, "http://prom.example"),
    ],
)
def test_url_from_host_port_schema(kw, url):
    assert settings(**kw).url == url


def test_basic_auth_and_bearer_token_stay_out_of_repr():
    basic = settings(host="http://h:1", login="u", password="s3cret-basic")
    assert basic.auth == ("u", "s3cret-basic") and basic.headers == {}
    bearer = settings(host="http://h:1", password="s3cret-token", extra=json.dumps({"bearer_token": True}))
    assert bearer.auth is None and bearer.headers == {"Authorization": "Bearer s3cret-token"}
    assert "s3cret" not in repr(basic) + repr(bearer)


def test_verify_and_folders_from_extras():
    s = settings(host="http://h:1", extra=json.dumps({"verify": "false", "file_sd_dir": "/a", "rules_dir": "/b"}))
    assert (s.verify, s.file_sd_dir, s.rules_dir) == (False, "/a", "/b")
    assert settings(host="http://h:1", extra=json.dumps({"verify": "/etc/ca.pem"})).verify == "/etc/ca.pem"
    assert settings(host="http://h:1").verify is True


def test_folders_fall_back_to_wecube_config(monkeypatch):
    monkeypatch.setenv("AIRFLOW__WECUBE__FILE_SD_DIR", "/from/conf/sd")
    monkeypatch.setenv("AIRFLOW__WECUBE__RULES_DIR", "/from/conf/rules")
    s = settings(host="http://h:1")
    assert (s.file_sd_dir, s.rules_dir) == ("/from/conf/sd", "/from/conf/rules")


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({}, "no host"),
        ({"host": "http://h:1", "extra": json.dumps({"bearer_token": True})}, "password is empty"),
        ({"host": "http://h:1", "extra": json.dumps({"bearer_token": "maybe"})}, "true or false"),
    ],
)
def test_bad_connections(kw, message):
    with pytest.raises(PrometheusConfigError, match=message):
        settings(**kw)


def test_unreachable_prometheus_says_so(monkeypatch):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("AIRFLOW_CONN_PROMETHEUS_DEFAULT", json.dumps({"conn_type": "prometheus", "host": f"http://127.0.0.1:{port}"}))
    with pytest.raises(PrometheusUnreachableError, match=f"127.0.0.1:{port} is unreachable"):
        PrometheusHook().query("up")
    ok, message = PrometheusHook().test_connection()
    assert not ok and "unreachable" in message


def test_unreachable_prometheus_in_a_range_query_says_so(monkeypatch):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("AIRFLOW_CONN_PROMETHEUS_DEFAULT", json.dumps({"conn_type": "prometheus", "host": f"http://127.0.0.1:{port}"}))
    hook = PrometheusHook()
    hook.range_concurrency = 2
    with pytest.raises(PrometheusUnreachableError, match=f"127.0.0.1:{port} is unreachable"):
        hook.query_range_frame({"a": "up", "b": "up"}, 0, 3 * 86400, "15s")  # 4 chunks, 2 in flight


def _range_body(*series) -> bytes:
    return json.dumps(
        {"status": "success", "data": {"resultType": "matrix", "result": [{"metric": m, "values": v} for m, v in series]}}
    ).encode()


def test_range_body_values_parse_special_floats_and_exact_timestamps():
    body = _range_body(
        ({"__name__": "m", "b": "2", "a": "1"}, [[1700000000, "1.5"], [1700000000.25, "NaN"], [1700000015, "+Inf"],
                                                [1700000030, "-Inf"], [1700000045, "1e+06"], [1700000060, "-0"]]),
        ({}, []),  # a series with no samples in this chunk is left out
    )
    [(name, ts, vals)] = PrometheusHook()._range_decode(body, "m")
    assert name == 'm{a="1",b="2"}'
    assert ts.dtype == np.int64 and ts.tolist() == [1700000000000, 1700000000250, 1700000015000, 1700000030000, 1700000045000, 1700000060000]
    assert vals.dtype == np.float64 and np.isnan(vals[1])
    assert [vals[0], *vals[2:]] == [1.5, np.inf, -np.inf, 1e6, 0.0]


@pytest.mark.parametrize(
    ("body", "error", "message"),
    [
        (b"<html>proxy login</html>", PrometheusError, r"unexpected body .*proxy login"),
        (b'{"status": "success", "data": {"result": [{"metric": {}, "values": [[1, 2]]}]}}', PrometheusError, "unexpected body"),
        (b'{"status": "error", "errorType": "timeout", "error": "query timed out"}', PrometheusError, r"HTTP 200, timeout\): query timed out"),
    ],
)
def test_range_body_that_is_not_a_matrix_is_refused(body, error, message):
    with pytest.raises(error, match=message):
        PrometheusHook()._range_decode(body, "m")


def test_missing_folder_config_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_PROMETHEUS_DEFAULT", json.dumps({"conn_type": "prometheus", "host": "http://127.0.0.1:1"}))
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


def test_deadline_and_size_cap_from_extras_config_and_defaults(monkeypatch):
    s = settings(host="http://h:1", extra=json.dumps({"deadline": "2.5", "max_response_bytes": 1000}))
    assert (s.deadline, s.max_response_bytes) == (2.5, 1000)
    monkeypatch.setenv("AIRFLOW__WECUBE__HTTP_DEADLINE", "9")
    assert settings(host="http://h:1").deadline == 9.0
    monkeypatch.delenv("AIRFLOW__WECUBE__HTTP_DEADLINE")
    assert (settings(host="http://h:1").deadline, settings(host="http://h:1").max_response_bytes) == (300.0, 64 * 1024 * 1024)
    for bad in ({"deadline": "-1"}, {"deadline": "soon"}, {"max_response_bytes": 0}, {"deadline": True}):
        with pytest.raises(PrometheusConfigError, match=r"connection extra '(deadline|max_response_bytes)' must be a number above 0"):
            settings(host="http://h:1", extra=json.dumps(bad))
