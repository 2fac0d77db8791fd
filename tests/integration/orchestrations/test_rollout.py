"""airflow_wecube.orchestrations.rollout.roll_back against the real sandbox (and a real Prometheus): a redeploy is
rolled back to the version before it, a first deploy is stopped and its monitoring removed."""

from __future__ import annotations

import json

import pytest

from airflow_wecube.hooks.plugin import WeCubePluginHook
from airflow_wecube.hooks.prometheus import PrometheusHook
from airflow_wecube.orchestrations.rollout import RollbackError, job_name, roll_back
from tests.integration.sandbox.helpers import one, outputs, query_ci, uniq

pytestmark = pytest.mark.integration


def _no_prometheus() -> PrometheusHook:
    raise AssertionError("a rollback to the previous version must not touch Prometheus")


@pytest.fixture
def host(sandbox):
    vpc = one(sandbox, "/network/v1/vpc/create", name=uniq("vpc"), cidr="10.91.0.0/16", data_center="dc-rollback")
    subnet = one(sandbox, "/network/v1/subnet/create", name=uniq("sn"), vpc=vpc["guid"], zone="a", prefix_length=24)
    made = one(sandbox, "/host/v1/host/create", name=uniq("rb-host"), subnet=subnet["guid"])
    yield made
    outputs(sandbox.post("/host/v1/host/destroy", [{"callbackParameter": made["name"], "host": made["guid"]}]))


def _deploy(sandbox, host: dict, app: str, version: str) -> dict:
    return one(sandbox, "/deploy/v1/app/deploy", host=host["guid"], app=app, version=version, rate=5)


def test_a_redeploy_is_rolled_back_to_the_version_before(wecube_conn, plugin_registry, sandbox, host):
    app = uniq("rb-app")
    _deploy(sandbox, host, app, "1.0.0")
    _deploy(sandbox, host, app, "2.0.0")
    actions, problems = roll_back(
        WeCubePluginHook(), app=app, version="2.0.0", touched=[host["name"]], planned_count=1, prometheus=_no_prometheus
    )
    assert problems == []
    assert actions == [f"{host['name']}: rolled back from 2.0.0 to 1.0.0"]
    (ci,) = query_ci(sandbox, "app_instance", f"{app}@{host['name']}")
    assert ci["attributes"]["version"] == "1.0.0" and ci["attributes"]["status"] == "running"
    # a host that never ran the app is left alone
    assert roll_back(
        WeCubePluginHook(),
        app=uniq("never"),
        version="1.0.0",
        touched=[host["name"]],
        planned_count=1,
        prometheus=_no_prometheus,
    ) == ([], [])


def test_a_first_deploy_is_stopped_and_its_monitoring_removed(
    wecube_conn, plugin_registry, sandbox, host, prometheus, prometheus_conn
):
    app = uniq("rb-first")
    deployed = _deploy(sandbox, host, app, "1.0.0")
    prom = PrometheusHook()
    prom.register_targets(job_name(app), [deployed["target"]], confirm=False)
    prom.apply_rule_group(job_name(app), [{"alert": "Down", "expr": f'up{{job="{job_name(app)}"}} == 0'}])
    actions, problems = roll_back(
        WeCubePluginHook(), app=app, version="1.0.0", touched=[host["name"]], planned_count=1, prometheus=PrometheusHook
    )
    assert problems == []
    assert actions == [
        f"{host['name']}: stopped (first deploy, nothing to roll back to)",
        f"targets {deployed['target']} removed from Prometheus job {job_name(app)}",
        f"alert rule group {job_name(app)} removed",
    ]
    (ci,) = query_ci(sandbox, "app_instance", f"{app}@{host['name']}")
    assert ci["attributes"]["status"] == "stopped"
    sd = prometheus.file_sd_dir / f"{job_name(app)}.json"
    assert not sd.exists() or deployed["target"] not in json.dumps(json.loads(sd.read_text()))
    assert job_name(app) not in [g["name"] for g in prom.rule_groups()]


def test_a_prometheus_failure_is_a_problem_the_app_is_still_stopped(
    wecube_conn, plugin_registry, sandbox, host, monkeypatch
):
    app = uniq("rb-noprom")
    _deploy(sandbox, host, app, "1.0.0")
    monkeypatch.delenv("AIRFLOW_CONN_RB_MISSING", raising=False)
    actions, problems = roll_back(
        WeCubePluginHook(),
        app=app,
        version="1.0.0",
        touched=[host["name"]],
        planned_count=2,
        prometheus=lambda: PrometheusHook("rb_missing").settings,
    )
    assert actions == [f"{host['name']}: stopped (first deploy, nothing to roll back to)"]
    assert len(problems) == 1 and problems[0].startswith("Prometheus cleanup failed:") and "rb_missing" in problems[0]


def test_an_unreachable_cmdb_is_a_rollback_error(unreachable_wecube_conn, plugin_registry):
    with pytest.raises(RollbackError, match="could not read what was deployed on h1, h2: "):
        roll_back(
            WeCubePluginHook(), app="a", version="1", touched=["h1", "h2"], planned_count=2, prometheus=_no_prometheus
        )
