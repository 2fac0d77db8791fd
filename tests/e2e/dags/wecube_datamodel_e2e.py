"""E2E DAG: one plugin call for every host of a subnet, inputs from the CMDB, outputs written back."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

from airflow_wecube.operators.plugin import WeCubePluginOperator

with DAG(
    "wecube_datamodel_e2e",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    schedule=None,
    params={"subnet": "e2e-dm-subnet"},
    tags=["test"],
):
    WeCubePluginOperator(
        task_id="check",
        service="host/host/check",
        entities="cmdb:subnet{name eq '{{ params.subnet }}'}~(subnet)cmdb:host",
        require_entities=True,
    )
