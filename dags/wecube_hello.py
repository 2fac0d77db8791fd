"""Hello WeCube: record a data center and an app in the sandbox CMDB, then read them back.

Shows both ways to call a registered plugin: the generic ``WeCubePluginOperator`` (service name +
inputs) and a typed operator class made from the manifest with ``plugin_operator``. Needs the
sandbox plugins registered (``make demo`` does it) and the ``wecube_default`` connection.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

from airflow_wecube.operators.plugin import WeCubePluginOperator, plugin_operator

CmdbQuery = plugin_operator("cmdb/ci/query")

with DAG(
    dag_id="wecube_hello",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    schedule=None,
    catchup=False,
    tags=["wecube", "example"],
    params={"app": "account-service"},
    doc_md=__doc__,
):
    # one call, two entities: the plugin gets both in one `inputs` list
    create = WeCubePluginOperator(
        task_id="create_cis",
        service="cmdb/ci/create",
        inputs=[
            {"callbackParameter": "dc", "type": "data_center", "name": "dc-hello", "attributes": {"region": "sz"}},
            {
                "callbackParameter": "app",
                "type": "app",
                "name": "{{ params.app }}",
                "attributes": {"owner": "{{ dag_run.run_id }}"},
            },
        ],
    )
    query = CmdbQuery(task_id="query_app", type="app", name="{{ params.app }}")
    create >> query
