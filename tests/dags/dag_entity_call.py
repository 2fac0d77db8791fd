"""Test DAG for entity-bound plugin calls (run with dag.test() by tests/integration/datamodel)."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

from airflow_wecube.operators.plugin import WeCubePluginOperator, plugin_operator

HOSTS = "cmdb:subnet~(subnet)cmdb:host"

with DAG("test_entity_call", start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), schedule=None, params={"subnet": ""}):
    check = WeCubePluginOperator(task_id="check", service="host/host/check", entities=HOSTS, root="{{ params.subnet }}")
    HostCheck = plugin_operator("host/host/check")
    typed = HostCheck(task_id="typed", entities=HOSTS + "{name eq 'dm-nothing'}", root="{{ params.subnet }}")
    check >> typed
