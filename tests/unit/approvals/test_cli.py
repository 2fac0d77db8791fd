"""``wecube approvals list`` without a server: configuration and connection errors are clear."""

from __future__ import annotations

import socket

import pytest

from airflow_wecube.cli import main
from airflow_wecube.exceptions import WeCubeError
from airflow_wecube.util.airflow_api import AirflowClient


@pytest.fixture
def no_env(monkeypatch):
    for name in ("WECUBE_AIRFLOW_URL", "WECUBE_AIRFLOW_USER", "WECUBE_AIRFLOW_PASSWORD"):
        monkeypatch.delenv(name, raising=False)


def test_list_without_configuration(no_env, capsys):
    assert main(["approvals", "list"]) == 1
    err = capsys.readouterr().err
    assert "WECUBE_AIRFLOW_URL" in err and "WECUBE_AIRFLOW_PASSWORD" in err


def test_list_unreachable_server_does_not_leak_password(no_env, capsys):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert (
        main(["approvals", "list", "--url", f"http://127.0.0.1:{port}", "--user", "u", "--password", "s3cret-pw"]) == 1
    )
    err = capsys.readouterr().err
    assert "cannot reach Airflow" in err and "s3cret-pw" not in err


def test_client_from_env(monkeypatch):
    monkeypatch.setenv("WECUBE_AIRFLOW_URL", "http://127.0.0.1:1/")
    monkeypatch.setenv("WECUBE_AIRFLOW_USER", "alice")
    monkeypatch.setenv("WECUBE_AIRFLOW_PASSWORD", "pw")
    with AirflowClient.from_env() as c:
        assert c.url == "http://127.0.0.1:1" and c.username == "alice"
    with pytest.raises(WeCubeError, match="empty"):
        AirflowClient("", "a", "b")
