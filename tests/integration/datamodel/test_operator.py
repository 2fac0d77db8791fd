"""WeCubePluginOperator(entities=, root=) and plugin_operator classes, run with dag.test() on the sandbox."""

from __future__ import annotations

import pytest

from airflow_wecube.datamodel.client import EntityApi
from airflow_wecube.datamodel.evaluate import Evaluator
from airflow_wecube.operators.plugin import WRITEBACK_XCOM_KEY, WeCubePluginOperator
from tests.integration.operators.test_plugin import ti_states, xcom

pytestmark = pytest.mark.integration


def test_entity_bound_tasks_call_for_each_host_and_write_back(
    airflow_db, wecube_conn, plugin_registry, sandbox, placed
):
    import os

    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(os.path.join(os.environ["AIRFLOW__CORE__DAGS_FOLDER"], "dag_entity_call.py"))
    dag = bag.dags["test_entity_call"]
    dr = dag.test(run_conf={"subnet": placed["subnet"]["guid"]})
    assert dr.state == "success", ti_states(dr)
    outputs = xcom(dag.dag_id, dr.run_id, "check")
    assert sorted(o["callbackParameter"] for o in outputs) == sorted(placed["hosts"])
    written = xcom(dag.dag_id, dr.run_id, "check", key=WRITEBACK_XCOM_KEY)
    assert sorted(w["id"] for w in written["updated"]) == sorted(placed["hosts"])
    assert xcom(dag.dag_id, dr.run_id, "typed") == []  # reaches nothing: a no-op that succeeded
    rows = Evaluator(EntityApi.at(sandbox.url, sandbox.token)).evaluate(
        "cmdb:subnet~(subnet)cmdb:host", root=placed["subnet"]["guid"]
    )
    assert {r.data["inventory_status"] for r in rows} == {"ok"}


def test_arguments_are_checked_at_dag_import():
    with pytest.raises(ValueError, match="give inputs="):
        WeCubePluginOperator(task_id="t", service="host/host/check")
    with pytest.raises(ValueError, match="not a list"):
        WeCubePluginOperator(task_id="t", service="host/host/check", entities="cmdb:host", inputs=[{}])


def test_each_package_through_its_own_connection(airflow_db, plugin_registry, sandbox, placed, monkeypatch):
    """wecube_default points nowhere: the host plugin is reached through wecube_host, the CMDB's entity
    API through wecube_cmdb (a package's own connection wins over the default)."""
    import json
    import os

    from airflow.dag_processing.dagbag import DagBag

    from tests.fixtures.processes import free_port

    good = json.dumps({"conn_type": "wecube", "host": sandbox.url, "password": sandbox.token})
    dead = {"conn_type": "wecube", "host": f"http://127.0.0.1:{free_port()}", "extra": {"retry_limit": 0}}
    monkeypatch.setenv("AIRFLOW_CONN_WECUBE_DEFAULT", json.dumps(dead))
    monkeypatch.setenv("AIRFLOW_CONN_WECUBE_HOST", good)
    monkeypatch.setenv("AIRFLOW_CONN_WECUBE_CMDB", good)
    bag = DagBag(os.path.join(os.environ["AIRFLOW__CORE__DAGS_FOLDER"], "dag_entity_call.py"))
    dr = bag.dags["test_entity_call"].test(run_conf={"subnet": placed["subnet"]["guid"]})
    assert dr.state == "success", ti_states(dr)
    assert len(xcom("test_entity_call", dr.run_id, "check")) == len(placed["hosts"])


def test_the_host_inventory_example_checks_the_hosts_of_a_subnet(airflow_db, wecube_conn, plugin_registry, placed):
    import os

    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(os.path.join(os.environ["AIRFLOW__CORE__DAGS_FOLDER"], "wecube_host_inventory.py"))
    assert bag.import_errors == {}
    dag = bag.dags["wecube_host_inventory"]
    dr = dag.test(run_conf={"subnet": placed["subnet"]["name"]})
    assert dr.state == "success", ti_states(dr)
    outputs = xcom(dag.dag_id, dr.run_id, "check_hosts")
    assert sorted(o["callbackParameter"] for o in outputs) == sorted(placed["hosts"])
    assert {o["inventory_status"] for o in outputs} == {"ok"}
