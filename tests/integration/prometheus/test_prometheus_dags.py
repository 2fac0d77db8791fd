"""The monitoring example DAG and the operators, run with dag.test() against the session Prometheus."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airflow_wecube.hooks.prometheus import PrometheusHook
from tests.fixtures.waiting import wait_for


def load_dag(path: Path, dag_id: str):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(str(path))
    assert dag_id in bag.dags, bag.import_errors
    return bag.dags[dag_id]


def states(dr) -> dict:
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        return {
            (t.task_id, t.map_index): t.state
            for t in session.query(TaskInstance).filter_by(dag_id=dr.dag_id, run_id=dr.run_id)
        }


def xcom(dr, task_id, map_index=-1):
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        row = (
            session.query(XComModel)
            .filter_by(dag_id=dr.dag_id, run_id=dr.run_id, task_id=task_id, key="return_value", map_index=map_index)
            .one_or_none()
        )
        return None if row is None else XComModel.deserialize_value(row)


def test_monitoring_example_runs_green(airflow_db, prometheus, prometheus_conn, exporter):
    job = "it_example"
    import os

    dag = load_dag(
        Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]) / "wecube_monitoring_example.py", "wecube_monitoring_example"
    )
    dr = dag.test(run_conf={"job": job, "target": exporter.target, "env": "it"})
    assert dr.state == "success", states(dr)
    assert xcom(dr, "register_target") == [exporter.target]
    assert json.loads((prometheus.file_sd_dir / f"{job}.json").read_text()) == [
        {"labels": {"env": "it", "job": job, "registered_by": "airflow"}, "targets": [exporter.target]}
    ]
    groups = {g["name"]: g for g in prometheus.api("rules")["data"]["groups"]}
    (rule,) = groups[job]["rules"]
    assert rule["name"] == "WeCubeTargetDown" and rule["query"] == f'up{{job="{job}"}} == 0'
    # Jinja rendered the DAG's params, and left Prometheus's own template for Prometheus
    assert rule["annotations"]["summary"] == f"{{{{ $labels.instance }}}} of job {job} is down"
    assert xcom(dr, "wait_until_up")[0]["value"] == 1.0
    hook = PrometheusHook(prometheus_conn)
    assert hook.query(f'up{{job="{job}"}}')[0]["value"] == 1.0
    hook.deregister_targets(job, [exporter.target], confirm=False)
    hook.delete_rule_group(job)


@pytest.fixture
def operators_dag_file():
    """This folder's test DAG, linked into the session's DAGs folder (dag.test() runs DAGs from there)."""
    import os

    src = Path(__file__).with_name("dags") / "prometheus_operators_dag.py"
    link = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]) / "test_prometheus_operators_dag.py"
    if not link.exists():
        link.symlink_to(src)
    yield link
    link.unlink(missing_ok=True)  # keep test DAGs out of other tests' DAGs folder


def test_mapped_operators_and_teardown(airflow_db, prometheus, prometheus_conn, operators_dag_file):
    dag = load_dag(operators_dag_file, "test_prometheus_operators")
    dr = dag.test()
    assert dr.state == "success", states(dr)
    assert [xcom(dr, "register", i) for i in range(3)] == [
        ["127.0.0.1:21001"],
        ["127.0.0.1:21002"],
        ["127.0.0.1:21003"],
    ]
    assert xcom(dr, "rule") == {"group": "it_mapped", "rules": ["it_mapped:up:count"]}
    assert xcom(dr, "counted")[0]["value"] == 3.0
    assert sorted(xcom(dr, "deregister")) == ["127.0.0.1:21001", "127.0.0.1:21002", "127.0.0.1:21003"]
    assert not (prometheus.file_sd_dir / "it_mapped.json").exists()
    assert not (prometheus.rules_dir / "it_mapped.yml").exists()
    assert "it_mapped" not in {g["name"] for g in prometheus.api("rules")["data"]["groups"]}


def test_bad_rule_fails_the_task_and_changes_nothing(airflow_db, prometheus, prometheus_conn):
    from airflow_wecube.operators.prometheus import PrometheusAlertRuleOperator
    from airflow_wecube.prometheus.errors import PrometheusRuleError

    PrometheusHook(prometheus_conn).apply_rule_group("it_op_bad", [{"alert": "Fine", "expr": "vector(1) == 0"}])
    path = prometheus.rules_dir / "it_op_bad.yml"
    good = path.read_bytes()
    op = PrometheusAlertRuleOperator(
        task_id="bad", group="it_op_bad", rules=[{"alert": "Broken", "expr": "rate(up[5m]"}]
    )
    with pytest.raises(PrometheusRuleError, match="promtool refused"):
        op.execute({})
    assert path.read_bytes() == good
    wait_for(lambda: "it_op_bad" in {g["name"] for g in prometheus.api("rules")["data"]["groups"]})
    PrometheusHook(prometheus_conn).delete_rule_group("it_op_bad")
