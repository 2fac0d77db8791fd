"""A run of process ``view_demo`` (tests/unit/processes/data/v4_view_demo.json) that records what the
process runtime records (docs/processes.md, "The process view"): ``wecube_bind``'s bindings and a
node's ``wecube_node`` XCom; one node fails. The view tests read this run through the pages."""

from __future__ import annotations

import pendulum
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG

HOSTS = [{"id": "host_1", "displayName": "web-1", "path": "cmdb:app~(app)cmdb:host"}]


def bind():
    return {"root": {"id": "app_1", "displayName": "shop"}, "nodes": {"n_call": HOSTS, "n_fail": HOSTS}}


def call(ti):
    ti.xcom_push(
        key="wecube_node",
        value={
            "node_id": "n_call",
            "service": "host/host/create",
            "entities": HOSTS,
            "calls": [
                {
                    "callbackParameter": "host_1",
                    "inputs": {"name": "web-1", "password": "hunter2-not-masked-upstream"},
                    "output": {"host_id": "h-17", "<b>note</b>": "<script>x()</script>"},
                    "errorCode": "0",
                    "errorMessage": "",
                }
            ],
        },
    )


def fail():
    raise RuntimeError("the plugin said no")


with DAG("wecube_proc_view_demo", start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), schedule=None) as dag:
    tasks = {
        "wecube_bind": PythonOperator(task_id="wecube_bind", python_callable=bind),
        "n_start": EmptyOperator(task_id="n_start"),
        "n_fork": EmptyOperator(task_id="n_fork"),
        "n_call": PythonOperator(task_id="n_call", python_callable=call),
        "n_fail": PythonOperator(task_id="n_fail", python_callable=fail),
        "n_merge": EmptyOperator(task_id="n_merge"),
        "n_ask": EmptyOperator(task_id="n_ask"),
        "n_end": EmptyOperator(task_id="n_end"),
    }
    for up, down in [
        ("wecube_bind", "n_start"),
        ("n_start", "n_fork"),
        ("n_fork", "n_call"),
        ("n_fork", "n_fail"),
        ("n_call", "n_merge"),
        ("n_fail", "n_merge"),
        ("n_merge", "n_ask"),
        ("n_ask", "n_end"),
    ]:
        tasks[up] >> tasks[down]
