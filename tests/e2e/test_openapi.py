"""An OpenAPI-described tool called from a DAG: Airflow's own REST API under the e2e ``airflow standalone``.

The document is the one the installed ``apache-airflow`` ships; the connection holds a JWT from
``POST /auth/token`` as its bearer token.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from tests.e2e.orchestrations.conftest import put_connection

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

DAG_FILE = Path(__file__).parent / "dags" / "wecube_openapi_e2e.py"
DAG_ID = "wecube_openapi_e2e"


def airflow_document() -> Path:
    spec = importlib.util.find_spec("airflow")
    return Path(next(iter(spec.submodule_search_locations))) / "api_fastapi/core_api/openapi/v2-rest-api-generated.yaml"


@pytest.fixture(scope="module")
def sa(standalone):
    from airflow_wecube.registry import Registry, load_manifest

    registry = Registry(standalone.env.get("WECUBE_REGISTRY_PATH") or standalone.dags_folder / "wecube_plugins")
    registry.register(load_manifest(airflow_document(), package="airflow"), replace=True)
    client = standalone.client()
    put_connection(client, "airflow_api", {"conn_type": "wecube", "host": standalone.url, "password": client.token()})
    standalone.add_dags([DAG_FILE])
    standalone.wait_for_dag(DAG_ID)
    return standalone


def test_dag_calls_airflow_rest_api_read_operations(sa):
    run_id = sa.trigger(DAG_ID)["dag_run_id"]
    sa.wait_for_ti_state(DAG_ID, run_id, "get_dag", "success")
    sa.wait_for_ti_state(DAG_ID, run_id, "list_dags", "success")
    dag = sa.client().xcom(DAG_ID, run_id, "get_dag")
    assert dag["dag_id"] == DAG_ID and dag["errorCode"] == "0"
    assert dag["is_paused"] is False
    listing = sa.client().xcom(DAG_ID, run_id, "list_dags")
    assert [d["dag_id"] for d in listing["dags"]] == [DAG_ID]
    sa.wait_for_ti_state(DAG_ID, run_id, "bad_value", "failed")
    log = sa.task_log(DAG_ID, run_id, "bad_value", chars=20000)
    assert "invalid inputs for airflow/DAG/get_dags: input: limit: 'many' is not of type 'integer'" in log
    sa.wait_for_run_state(DAG_ID, run_id, "failed")
