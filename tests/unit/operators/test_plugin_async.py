"""The asynchronous operator's settings: bad arguments fail at DAG import, lookups follow the documented order."""

from __future__ import annotations

from datetime import timedelta

import pytest
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from airflow_wecube.operators.plugin import WeCubePluginOperator
from airflow_wecube.operators.plugin_async import _judge_options, _timed_out, callback_base, sysvar_lookup


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


def outputs(**comments):
    return [{"callbackParameter": cb, "comment": c} for cb, c in comments.items()]


def test_any_entity_rejecting_rejects_the_call_naming_it():
    """Several entities of one APPROVAL call: one rejection is enough, and the message says whose."""
    chosen = {"web": "Approve", "db": "Reject"}
    with pytest.raises(AirflowFailException, match=r"svc: rejected \(Reject\) by 1 of 2 entities: db: not now$"):
        _judge_options(op(), "svc", outputs(web="fine", db="not now"), chosen, {"Reject"})
    _judge_options(op(fail_on_reject=False), "svc", outputs(web="fine", db="not now"), chosen, {"Reject"})
    _judge_options(op(), "svc", outputs(web="a", db="b"), {"web": "Approve", "db": "Approve"}, {"Reject"})


def test_one_entity_rejecting_reads_as_before():
    with pytest.raises(AirflowFailException, match=r"^svc: rejected \(Reject\): not during the freeze$"):
        _judge_options(op(), "svc", outputs(**{"0": "not during the freeze"}), {"0": "Reject"}, {"Reject"})


@pytest.mark.parametrize(("policy", "error"), [("fail", AirflowFailException), ("skip", AirflowSkipException)])
def test_a_timeout_names_the_entities_still_waiting(policy, error):
    state = {"request_id": "r-1", "deadline": "2026-01-01T00:00:00+00:00"}
    with pytest.raises(error, match=r"for 1 of 2 entities by .* \(still waiting: callbackParameter db\)"):
        _timed_out(op(on_timeout=policy), "svc", state, ["web", "db"], ["db"], ["Approve", "Reject"], {"Reject"})


def test_a_timeout_policy_answers_only_the_entities_still_waiting():
    state = {"request_id": "r-1", "deadline": None}
    taken = _timed_out(op(on_timeout="reject"), "svc", state, ["web", "db"], ["db"], ["Approve", "Reject"], {"Reject"})
    assert list(taken) == ["db"] and taken["db"]["resultCode"] == "Reject"
    assert taken["db"]["results"]["outputs"][0]["timedOut"] is True
