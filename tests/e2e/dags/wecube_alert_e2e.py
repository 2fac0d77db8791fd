"""A minimal runbook: scheduled on the alert's Asset, it returns the alerts that started it (XCom)."""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG, task

from airflow_wecube.alertmanager.assets import alert_asset, alerts_from_context

with DAG(
    "wecube_alert_e2e",
    schedule=[alert_asset("WeCubeE2EAlert")],
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["test"],
):

    @task
    def read_alerts(**context) -> list[dict]:
        return alerts_from_context(context)

    read_alerts()
