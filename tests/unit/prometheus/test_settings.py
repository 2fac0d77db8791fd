"""Reading a ``prometheus`` connection into :class:`PrometheusSettings`."""

from __future__ import annotations

import json

import pytest
from airflow.sdk import Connection

from airflow_wecube.prometheus.errors import PrometheusConfigError
from airflow_wecube.prometheus.settings import PrometheusSettings


def settings(**kw) -> PrometheusSettings:
    return PrometheusSettings.from_connection(Connection(conn_id="p", conn_type="prometheus", **kw))


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


def test_deadline_and_size_cap_from_extras_config_and_defaults(monkeypatch):
    s = settings(host="http://h:1", extra=json.dumps({"deadline": "2.5", "max_response_bytes": 1000}))
    assert (s.deadline, s.max_response_bytes) == (2.5, 1000)
    monkeypatch.setenv("AIRFLOW__WECUBE__HTTP_DEADLINE", "9")
    assert settings(host="http://h:1").deadline == 9.0
    monkeypatch.delenv("AIRFLOW__WECUBE__HTTP_DEADLINE")
    default = settings(host="http://h:1")
    assert (default.deadline, default.max_response_bytes) == (300.0, 64 * 1024 * 1024)
    for bad in ({"deadline": "-1"}, {"deadline": "soon"}, {"max_response_bytes": 0}, {"deadline": True}):
        message = r"connection extra '(deadline|max_response_bytes)' must be a number above 0"
        with pytest.raises(PrometheusConfigError, match=message):
            settings(host="http://h:1", extra=json.dumps(bad))
