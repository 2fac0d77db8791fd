"""Monitoring the open-monitor way: register a target, add an alert rule, gate on ``up == 1``.

Needs a ``prometheus`` connection (``prometheus_default``) whose extras ``file_sd_dir`` and
``rules_dir`` are folders the Prometheus config reads (file_sd_configs over ``*.json``,
rule_files over ``*.yml``) and a Prometheus started with ``--web.enable-lifecycle``.
By default the target is Prometheus itself, so the demo needs nothing else running.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG, Param

from airflow_wecube.operators.prometheus import PrometheusAlertRuleOperator, PrometheusRegisterTargetsOperator
from airflow_wecube.sensors.prometheus import PrometheusQuerySensor

with DAG(
    dag_id="wecube_monitoring_example",
    description="Register a scrape target and an alert rule with Prometheus, then wait until it is up",
    start_date=datetime(2025, 1, 1),
    schedule=None,
    catchup=False,
    tags=["wecube", "prometheus", "example"],
    params={
        "job": Param("wecube_demo", type="string", pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$"),
        "target": Param("127.0.0.1:9090", type="string", description="host:port serving /metrics"),
        "env": Param("demo", type="string"),
    },
) as dag:
    register = PrometheusRegisterTargetsOperator(
        task_id="register_target",
        job="{{ params.job }}",
        targets=["{{ params.target }}"],
        labels={"env": "{{ params.env }}", "registered_by": "airflow"},
    )

    alert_rule = PrometheusAlertRuleOperator(
        task_id="add_alert_rule",
        group="{{ params.job }}",
        rules=[
            {
                "alert": "WeCubeTargetDown",
                "expr": 'up{job="{{ params.job }}"} == 0',
                "for": "1m",
                "labels": {"severity": "critical"},
                "annotations": {"summary": "{{ '{{' }} $labels.instance {{ '}}' }} of job {{ params.job }} is down"},
            }
        ],
    )

    wait_up = PrometheusQuerySensor(
        task_id="wait_until_up",
        promql='up{job="{{ params.job }}", instance="{{ params.target }}"}',
        condition="== 1",
        poke_interval=2,
        timeout=300,
    )

    register >> alert_rule >> wait_up
