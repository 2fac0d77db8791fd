"""Test DAGs for WeCubePluginOperator and plugin_operator (run with dag.test() by the tests)."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

from airflow_wecube.operators.plugin import WeCubePluginOperator, plugin_operator

START = pendulum.datetime(2026, 1, 1, tz="UTC")

with DAG(
    "test_plugin_ok",
    start_date=START,
    schedule=None,
    params={"secret": "zz-dag-secret-zz", "note": "qq-innocent-note-qq"},
):
    echo = WeCubePluginOperator(
        task_id="echo",
        service="faults/fault/echo",
        inputs=[{"callbackParameter": "a", "message": "hello", "token": "{{ params.secret }}"}],
    )
    probe = WeCubePluginOperator(
        task_id="probe",
        service="probe/echo/say",
        inputs={"message": "visible", "note": "{{ params.note }}"},
    )
    mapped = WeCubePluginOperator.partial(task_id="mapped", service="faults/fault/echo").expand(
        inputs=[{"message": "one"}, [{"message": "two"}, {"message": "three"}]]
    )
    Create = plugin_operator("cmdb/ci/create")
    typed = Create(task_id="typed", type="app", name="typed-app", callback_parameter="app1")
    echo >> probe >> mapped >> typed

with DAG("test_plugin_partial", start_date=START, schedule=None):
    WeCubePluginOperator(
        task_id="partial",
        service="faults/fault/entity-errors",
        inputs=[
            {"callbackParameter": "good", "value": "kept"},
            {"callbackParameter": "bad", "fail": "Y"},
        ],
    )
