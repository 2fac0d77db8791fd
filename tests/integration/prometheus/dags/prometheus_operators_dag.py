"""Test DAG: mapped target registration, an alert rule from a template, then teardown."""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG

from airflow_wecube.operators.prometheus import (
    PrometheusAlertRuleOperator,
    PrometheusDeregisterTargetsOperator,
    PrometheusRegisterTargetsOperator,
)
from airflow_wecube.sensors.prometheus import PrometheusQuerySensor

with DAG(
    dag_id="test_prometheus_operators",
    start_date=datetime(2025, 1, 1),
    schedule=None,
    params={"job": "it_mapped", "targets": ["127.0.0.1:21001", "127.0.0.1:21002", "127.0.0.1:21003"]},
) as dag:
    register = PrometheusRegisterTargetsOperator.partial(task_id="register", job="{{ params.job }}").expand(
        targets=["127.0.0.1:21001", "127.0.0.1:21002", "127.0.0.1:21003"]
    )
    rule = PrometheusAlertRuleOperator(
        task_id="rule",
        group="{{ params.job }}",
        rules=[{"record": "{{ params.job }}:up:count", "expr": 'count(up{job="{{ params.job }}"})'}],
    )
    counted = PrometheusQuerySensor(
        task_id="counted",
        promql="{{ params.job }}:up:count",
        condition="== 3",
        poke_interval=0.5,
        timeout=60,
    )
    deregister = PrometheusDeregisterTargetsOperator(
        task_id="deregister", job="{{ params.job }}", targets="{{ params.targets | join(',') }}"
    )
    drop_rule = PrometheusAlertRuleOperator(task_id="drop_rule", group="{{ params.job }}", delete=True)
    register >> rule >> counted >> deregister >> drop_rule
