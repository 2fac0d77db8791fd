"""dags/wecube_app_rollout.py under dag.test() against the real sandbox: bad parameters are refused
before anything is created (the approval makes the rest an e2e test: tests/e2e/orchestrations)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.fixtures.dag_runs import run_states as _states
from tests.fixtures.dag_runs import run_xcom as _xcom

pytestmark = pytest.mark.integration

DAG_ID = "wecube_app_rollout"


def _dag():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(os.path.join(os.environ["AIRFLOW__CORE__DAGS_FOLDER"], "wecube_app_rollout.py"))
    assert DAG_ID in bag.dags, bag.import_errors
    return bag.dags[DAG_ID]


@pytest.mark.parametrize(
    ("conf", "field"),
    [
        ({"subnet": ""}, "subnet"),
        ({"subnet": "a b"}, "subnet"),
        ({"rate_window": "0s"}, "rate_window"),
        ({"rate_window": "30"}, "rate_window"),
        ({"scrape_interval": 1e-09}, "scrape_interval"),
    ],
)
def test_bad_params_are_refused_when_the_run_is_made(airflow_db, conf, field):
    from airflow.sdk.definitions.param import ParamValidationError

    with pytest.raises(ParamValidationError, match=field):
        _dag().test(run_conf={"app": "it-roll-bad", **conf})


def test_unknown_conf_key_fails_the_first_task_before_any_host(airflow_db, wecube_conn, plugin_registry, sandbox):
    dr = _dag().test(run_conf={"app": "it-roll-typo", "subnet_name": "it-roll-subnet", "host_count": 1})
    assert dr.state == "failed"
    states = _states(dr)
    assert states[("host_requests", -1)] == "failed"
    assert states[("create_hosts", -1)] == "upstream_failed"
    assert states[("approve", -1)] == "upstream_failed"
    assert states[("report_failure", -1)] == "failed"
    message = _xcom(dr, "report_failure", key="message")
    assert message.startswith(
        "rollout of it-roll-typo 1.0.0 failed at host_requests: unknown parameter(s) 'subnet_name'"
    )
    assert "Hosts: no hosts were created by this run." in message
    r = sandbox.post("/cmdb/v1/ci/query", [{"callbackParameter": "q", "type": "host", "name": "it-roll-typo-1"}])
    assert r.json()["results"]["outputs"][0]["count"] == 0  # nothing was created
    assert not [c for c in sandbox.calls() if c["path"].startswith("/host/") and "it-roll-typo" in str(c["inputs"])]


def test_a_capacity_spec_that_does_not_exist_fails_the_first_task_before_any_host(
    airflow_db, wecube_conn, plugin_registry, sandbox
):
    dr = _dag().test(run_conf={"app": "it-roll-spec", "capacity_spec": "nope", "host_count": 1})
    assert dr.state == "failed"
    states = _states(dr)
    assert states[("host_requests", -1)] == "failed" and states[("create_hosts", -1)] == "upstream_failed"
    message = _xcom(dr, "report_failure", key="message")
    assert message.startswith("rollout of it-roll-spec 1.0.0 failed at host_requests: capacity_spec 'nope': no spec")
    assert "(nothing was created)" in message.splitlines()[0]
    calls = [c["path"] for c in sandbox.calls() if "it-roll-spec" in str(c["inputs"])]
    assert calls == ["/cmdb/v1/ci/query"]  # end_run looked for a lock to give back: no host, no lock taken


def test_the_dag_is_wiring_over_the_package_steps():
    from airflow_wecube.orchestrations.rollout_steps import ORDER, WATCHED

    dag = _dag()
    assert set(ORDER) <= set(dag.task_ids)
    assert {t.task_id for t in dag.get_task("rollback").upstream_list} == set(WATCHED)
    assert [t.task_id for t in dag.leaves] == ["report_failure"]
    assert {t.task_id for t in dag.get_task("end_run").upstream_list} == {"release_hosts", "promote_baseline"}
    source = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"], "wecube_app_rollout.py").read_text()
    assert len(source.splitlines()) < 250
