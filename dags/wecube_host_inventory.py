"""Host inventory: one plugin call for every running host of a subnet, bound by a data-model expression.

No host is listed here: ``entities=`` names them as WeCube's routine expressions do
(``cmdb:subnet~(subnet)cmdb:host``: the hosts whose ``subnet`` refers to the subnet), the inputs of
``host/host/check`` are read from each host's CMDB attributes (its manifest maps them), and its
outputs, ``inventory_status`` and ``inventory_note``, are written back to the hosts. Run it after
the network build and a rollout; then ``wecube entities query
"cmdb:subnet~(subnet)cmdb:host.inventory_status"`` shows them. See docs/data-model.md.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, Param

from airflow_wecube.operators.plugin import WeCubePluginOperator

with DAG(
    dag_id="wecube_host_inventory",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    schedule=None,
    catchup=False,
    tags=["wecube", "example", "data model"],
    params={"subnet": Param("", type="string", description="a subnet's name; empty: every subnet")},
    doc_md=__doc__,
):
    WeCubePluginOperator(
        task_id="check_hosts",
        service="host/host/check",
        entities=(
            "cmdb:subnet{% if params.subnet %}{name eq '{{ params.subnet }}'}{% endif %}"
            "~(subnet)cmdb:host{status eq 'running'}"
        ),
    )
