"""The asynchronous operator's settings: bad arguments fail at DAG import, lookups follow the documented order."""

from __future__ import annotations

from datetime import timedelta

import pytest
from airflow.sdk.exceptions import AirflowFailException

from airflow_wecube.operators.plugin import WeCubePluginOperator
from airflow_wecube.operators.plugin_async import callback_base, sysvar_lookup


def op(**kw):
    return WeCubePluginOperator(task_id="t", service="taskman/task/create-custom", inputs={}, **kw)


def test_wait_settings_are_kept():
    o = op(timeout=timedelta(minutes=2), on_timeout="reject", allowed_options=["Go", "Stop"], reject_options=["Stop"])
    assert (o.timeout_seconds, o.on_timeout, o.allowed_options, o.reject_options) == (
        120.0,
        "reject",
        ["Go", "Stop"],
        ["Stop"],
    )
    assert op().timeout_seconds is None and op().fail_on_reject is True


@pytest.mark.parametrize(
    ("kw", "words"),
    [
        ({"on_timeout": "retry"}, "on_timeout must be one of fail, skip, approve, reject"),
        ({"timeout": 0}, "timeout must be a positive number"),
        ({"timeout": "soon"}, "timeout must be a positive number"),
        ({"allowed_options": "Approve"}, "allowed_options must be a list of non-empty strings"),
        ({"reject_options": ["No", ""]}, "reject_options must be a list of non-empty strings"),
    ],
)
def test_bad_wait_settings_fail_at_dag_import(kw, words):
    with pytest.raises(ValueError, match=words):
        op(**kw)


def test_system_variables_come_from_the_variable_then_the_config(monkeypatch):
    monkeypatch.setenv("AIRFLOW_VAR_WECUBE_SYSVAR_GATEWAY_URL", "http://from-variable")
    monkeypatch.setenv("AIRFLOW__WECUBE__SYSVAR_GATEWAY_URL", "http://from-config")
    monkeypatch.setenv("AIRFLOW__WECUBE__SYSVAR_ONLY_CONFIG", "cfg")
    assert sysvar_lookup("GATEWAY_URL") == "http://from-variable"
    assert sysvar_lookup("ONLY_CONFIG") == "cfg"
    assert sysvar_lookup("NOT_SET_ANYWHERE") is None


def test_callback_base_prefers_its_own_setting_and_explains_a_missing_one(monkeypatch):
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "https://ops.example.com/airflow")
    assert callback_base() == "https://ops.example.com/airflow"
    monkeypatch.setenv("AIRFLOW__WECUBE__CALLBACK_BASE_URL", "http://10.0.0.5:8080")
    assert callback_base() == "http://10.0.0.5:8080"
    monkeypatch.setenv("AIRFLOW__WECUBE__CALLBACK_BASE_URL", "airflow.example.com")
    with pytest.raises(AirflowFailException, match="neither an http"):
        callback_base()
