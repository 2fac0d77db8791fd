"""DAG for the OpenAPI end-to-end test: Airflow's own REST API, registered from the OpenAPI document
the installed ``apache-airflow`` ships, called like any WeCube plugin (copied into the test
standalone's DAGs folder; the test registers the document and the ``airflow_api`` connection first).
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG

from airflow_wecube.operators.plugin import WeCubePluginOperator, plugin_operator

CONN = "airflow_api"

# a typed operator class made from the document: dag_id is the path parameter of GET /api/v2/dags/{dag_id}
GetDag = plugin_operator("airflow/DAG/get_dag")

with DAG("wecube_openapi_e2e", schedule=None, start_date=datetime(2024, 1, 1), catchup=False, tags=["e2e"]):
    get_dag = GetDag(task_id="get_dag", dag_id="wecube_openapi_e2e", wecube_conn_id=CONN)
    list_dags = WeCubePluginOperator(
        task_id="list_dags",
        service="airflow/DAG/get_dags",
        inputs={"limit": 5, "dag_id_pattern": "wecube_openapi%"},
        wecube_conn_id=CONN,
    )
    # refused before any request: limit is an integer in the document
    bad_value = WeCubePluginOperator(
        task_id="bad_value", service="airflow/DAG/get_dags", inputs={"limit": "many"}, wecube_conn_id=CONN
    )
    get_dag >> list_dags >> bad_value
