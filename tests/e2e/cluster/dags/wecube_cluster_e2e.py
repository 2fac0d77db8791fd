"""DAGs the cluster tests run besides the examples (copied into the test cluster's DAGs folder).

``wecube_cluster_fit``: recording rules written by a worker into the shared rules folder make a
series Prometheus evaluates every 5 s; a deferrable ``PrometheusQuerySensor`` waits in the triggerer
until two minutes of it exist; a capacity fit on a worker stores the model in the shared store.

``wecube_cluster_calls``: ``n`` mapped calls of ``faults/fault/delay`` (``seconds`` each), with
retries: the worker-kill test and the bench run it.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG, Param, task

from airflow_wecube.operators.capacity import CapacityGateOperator
from airflow_wecube.operators.plugin import WeCubePluginOperator
from airflow_wecube.operators.prometheus import PrometheusAlertRuleOperator
from airflow_wecube.sensors.prometheus import PrometheusQuerySensor

START = pendulum.datetime(2026, 1, 1, tz="UTC")
# y = 0.5 x1 + 0.2 x2 + 3, plus a term the model does not know (its noise)
SERIES = [
    {"record": "cluster_fit_x1", "expr": "time() % 60"},
    {"record": "cluster_fit_x2", "expr": "time() % 47"},
    {"record": "cluster_fit_y", "expr": "0.5 * (time() % 60) + 0.2 * (time() % 47) + 3 + 0.05 * (time() % 7)"},
]
SPEC = {
    "name": "cluster_fit",
    "target_label": "y",
    "target": "cluster_fit_y",
    "features": {"x1": "cluster_fit_x1", "x2": "cluster_fit_x2"},
    "window": "2m",
    "step": "5s",
    "cov_type": "nonrobust",
    "gates": {"min_samples": 20, "min_r2": 0.9, "max_p_value": 0.01},
    "limit": 100,
}

with DAG(
    dag_id="wecube_cluster_fit",
    start_date=START,
    schedule=None,
    catchup=False,
    tags=["wecube", "cluster-test"],
):
    series = PrometheusAlertRuleOperator(task_id="record_series", group="cluster_fit", rules=SERIES)
    history = PrometheusQuerySensor(
        task_id="wait_for_history",
        promql="count_over_time(cluster_fit_y[2m])",
        condition=">= 22",
        poke_interval=5,
        timeout=600,
        deferrable=True,
    )
    fit = CapacityGateOperator(task_id="fit", spec=SPEC, accept=True, require_baseline=False, fail_on_drift=False)
    series >> history >> fit

with DAG(
    dag_id="wecube_cluster_calls",
    start_date=START,
    schedule=None,
    catchup=False,
    tags=["wecube", "cluster-test"],
    params={"n": Param(2, type="integer", minimum=1, maximum=1000), "seconds": Param("0", type="string")},
    max_active_tasks=64,
):

    @task
    def entities(params=None) -> list[dict]:
        """One entity per mapped call: each call sleeps ``seconds`` in the sandbox."""
        return [{"callbackParameter": f"c{i}", "seconds": str(params["seconds"])} for i in range(int(params["n"]))]

    WeCubePluginOperator.partial(
        task_id="call", service="faults/fault/delay", retries=2, retry_delay=timedelta(seconds=2)
    ).expand(inputs=entities())
