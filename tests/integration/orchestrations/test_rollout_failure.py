"""The rollout's failure steps as the DAG runs them, with a fake task instance over real deploy results
from the sandbox: a "Stop" at the canary rolls back the canary alone to the release, and the hosts a
failed run created are given back while those that existed are kept."""

from __future__ import annotations

import pytest
from airflow.sdk.exceptions import AirflowFailException

from airflow_wecube.hooks.plugin import WeCubePluginHook
from airflow_wecube.hooks.prometheus import PrometheusHook
from airflow_wecube.operators.plugin import RESULT_XCOM_KEY
from airflow_wecube.orchestrations import rollout_failure as failure
from airflow_wecube.orchestrations import rollout_steps as steps
from airflow_wecube.orchestrations.failures import SUMMARY_XCOM_KEY
from airflow_wecube.orchestrations.rollout import job_name
from tests.fixtures.task_instance import FakeTI, Mapped
from tests.integration.sandbox.helpers import one, outputs, query_ci, uniq

pytestmark = pytest.mark.integration


@pytest.fixture
def subnet(sandbox):
    vpc = one(sandbox, "/network/v1/vpc/create", name=uniq("vpc"), cidr="10.93.0.0/16", data_center="dc-failure")
    return one(sandbox, "/network/v1/subnet/create", name=uniq("sn"), vpc=vpc["guid"], zone="a", prefix_length=24)


def call(sandbox, path: str, inputs: list[dict]) -> dict:
    """A deploy as the operator records it (XCom ``result``)."""
    return {"outputs": outputs(sandbox.post(path, inputs))}


def test_a_stop_at_the_canary_rolls_back_the_canary_alone_to_the_release(
    wecube_conn, plugin_registry, sandbox, subnet, prometheus, prometheus_conn
):
    app = uniq("rf-app")
    params = {"app": app, "version": "1.1.0+slowclose", "rate": 5, "error_rate": 0.0}
    hosts = [one(sandbox, "/host/v1/host/create", name=f"{app}-{i}", subnet=subnet["guid"]) for i in (1, 2)]
    inputs = [{"callbackParameter": h["name"], "host": h["guid"], "app": app, "rate": 5} for h in hosts]
    first = call(sandbox, "/deploy/v1/app/deploy", [{**i, "version": "1.0.0", "error_rate": 0.0} for i in inputs])
    steps.record_app(
        {**params, "version": "1.0.0"}, first["outputs"], [], {"group": job_name(app)}, "r0", hook=WeCubePluginHook()
    )
    planned = steps.plan(Mapped(hosts), {**params, "max_error_rate": 0.05}, hook=WeCubePluginHook())
    assert "Released now: **1.0.0** on " in planned["markdown"]
    canary = [{**planned["canary_inputs"][0]}]
    ti = FakeTI(
        {"deploy_canary": "success", "probe": "success", "probe_decision": "failed", "deploy": "upstream_failed"},
        {
            "approve": {"decision": "approved"},
            ("plan", "canary_inputs"): canary,
            ("plan", "deploy_inputs"): planned["deploy_inputs"],
            ("plan", steps.BEFORE_XCOM_KEY): planned[steps.BEFORE_XCOM_KEY],
            ("deploy_canary", RESULT_XCOM_KEY): call(sandbox, "/deploy/v1/app/deploy", canary),
        },
    )
    summary = failure.rollback(ti, params, hook=WeCubePluginHook(), prometheus=PrometheusHook)
    assert summary == {
        "failed_tasks": ["probe_decision"],
        "actions": [f"{app}-1: rolled back from 1.1.0+slowclose to 1.0.0"],
        "problems": [],
    }
    assert ti.pushed[SUMMARY_XCOM_KEY] == summary
    versions = {h["name"]: query_ci(sandbox, "app_instance", f"{app}@{h['name']}")[0]["attributes"] for h in hosts}
    assert {n: (a["version"], a["status"]) for n, a in versions.items()} == {
        f"{app}-1": ("1.0.0", "running"),
        f"{app}-2": ("1.0.0", "running"),
    }
    assert versions[f"{app}-2"]["pid"] == first["outputs"][1]["pid"]  # the other host was never touched
    outputs(sandbox.post("/host/v1/host/destroy", [{"callbackParameter": h["name"], "host": h["guid"]} for h in hosts]))


def test_a_failed_run_gives_back_the_hosts_it_created_and_keeps_the_others(
    wecube_conn, plugin_registry, sandbox, subnet
):
    app = uniq("rf-hosts")
    old = one(sandbox, "/host/v1/host/create", name=f"{app}-1", subnet=subnet["guid"])
    new = one(sandbox, "/host/v1/host/create", name=f"{app}-2", subnet=subnet["guid"])
    ti = FakeTI(
        {"host_requests": "success", "create_hosts_0": "success", "create_hosts_1": "success", "approve": "failed"},
        {"create_hosts": Mapped([{**old, "created": "N"}, {**new, "created": "Y"}])},
    )
    summary = failure.release_hosts(ti, hook=WeCubePluginHook())
    assert [r["name"] for r in summary["released"]] == [new["name"]] and summary["kept"] == [old["name"]]
    assert query_ci(sandbox, "host", new["name"])[0]["attributes"]["status"] == "destroyed"
    assert query_ci(sandbox, "host", old["name"])[0]["attributes"]["status"] == "running"
    outputs(sandbox.post("/host/v1/host/destroy", [{"callbackParameter": "h", "host": old["guid"]}]))


def test_a_rollback_that_cannot_read_the_cmdb_fails_with_its_summary(unreachable_wecube_conn, plugin_registry):
    ti = FakeTI(
        {"deploy_canary": "failed"},
        {"approve": {"decision": "approved"}, ("plan", "canary_inputs"): [{"callbackParameter": "h1"}]},
    )
    with pytest.raises(AirflowFailException, match="could not read what was deployed on h1"):
        failure.rollback(ti, {"app": "a", "version": "1"}, hook=WeCubePluginHook(), prometheus=PrometheusHook)
    assert ti.pushed[SUMMARY_XCOM_KEY] == {"failed_tasks": ["deploy_canary"], "actions": [], "problems": []}
