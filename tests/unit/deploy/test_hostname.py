"""Each worker of `make cluster` names itself, so a task instance's hostname says which one ran it."""

from __future__ import annotations

import socket

from airflow_wecube.deploy.hostname import HOSTNAME_ENV, from_env


def test_worker_name_from_env(monkeypatch):
    monkeypatch.setenv(HOSTNAME_ENV, "cluster-worker1")
    assert from_env() == "cluster-worker1"


def test_machine_name_otherwise(monkeypatch):
    monkeypatch.delenv(HOSTNAME_ENV, raising=False)
    assert from_env() == socket.getfqdn()
    monkeypatch.setenv(HOSTNAME_ENV, "  ")
    assert from_env() == socket.getfqdn()
