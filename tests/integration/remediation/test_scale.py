"""The scale-out runbook's steps against the real sandbox and Prometheus: a headroom alert adds a host
in the app's subnet, deploys the running version, registers its target and records the instance; the
guard rails (cooldown, max_instances, another model's alert) hold."""

from __future__ import annotations

import json
import time

import pytest

from airflow_wecube.hooks.plugin import WeCubePluginHook
from airflow_wecube.hooks.prometheus import PrometheusHook
from airflow_wecube.orchestrations import rollout_lock
from airflow_wecube.orchestrations.rollout import app_attributes, job_name
from airflow_wecube.orchestrations.runbook_tasks import rollout_check
from airflow_wecube.remediation import instance, scale
from airflow_wecube.remediation.alerts import Alert
from airflow_wecube.remediation.guard import ACT, AT_LIMIT, COOLDOWN, ROLLOUT, Policy
from tests.integration.sandbox.helpers import one, query_ci, uniq

pytestmark = pytest.mark.integration

POLICY = Policy(cooldown=900)
ME = "wecube_scale_out/run-1"


def alive(holder: str) -> bool:
    return True


@pytest.fixture
def app(sandbox, wecube_conn, plugin_registry):
    """An app on ``<app>-1``, recorded as the rollout records it."""
    vpc = one(sandbox, "/network/v1/vpc/create", name=uniq("vpc"), cidr="10.93.0.0/16", data_center="dc-scale")
    subnet = one(sandbox, "/network/v1/subnet/create", name=uniq("sn"), vpc=vpc["guid"], zone="a", prefix_length=24)
    name = uniq("sc")
    host = one(sandbox, "/host/v1/host/create", name=f"{name}-1", subnet=subnet["guid"])
    out = one(sandbox, "/deploy/v1/app/deploy", host=host["guid"], app=name, version="2.0.0", rate=1)
    ci = one(sandbox, "/cmdb/v1/ci/create", type="app", name=name)
    attrs = app_attributes({"app": name, "version": "2.0.0"}, [out], [out["target"]], {}, "manual__rollout")
    one(sandbox, "/cmdb/v1/ci/update", guid=ci["guid"], attributes=attrs)
    yield {"app": name, "subnet": subnet, "out": out}
    for h in (f"{name}-1", f"{name}-2"):
        sandbox.post("/host/v1/host/destroy", [{"callbackParameter": "h", "host": h}])


def headroom(model="m", starts="2026-12-01T20:00:00Z") -> Alert:
    labels = {"alertname": "CapacityHeadroomLow", "model": model, "severity": "warning"}
    return Alert(status="firing", labels=labels, fingerprint="fp-" + model, starts_at=starts)


def plan(a, alert, **kw):
    args = {"mode": "on", "policy": POLICY, "me": ME, "running": alive, "model": "m", "app": a["app"]}
    args.update({"job": job_name(a["app"]), "max_instances": 4, **kw})
    return scale.triage([alert], hook=WeCubePluginHook(), now=time.time(), **args)


def test_next_host_name():
    assert scale.next_host("shop", ["shop-1", "shop-3", "other-9"]) == "shop-4"
    assert scale.next_host("shop", []) == "shop-1"


def test_a_headroom_alert_adds_an_instance_and_the_guard_rails_hold(sandbox, app, prometheus, prometheus_conn):
    hook = WeCubePluginHook()
    [entry] = plan(app, headroom())
    assert entry["decision"] == ACT and entry["target"] == f"{app['app']}:scale-out"
    assert (entry["host"], entry["version"], entry["instances"]) == (f"{app['app']}-2", "2.0.0", 1)
    assert entry["subnet"] == app["subnet"]["guid"]
    [claimed] = instance.claim(
        [entry], hook=hook, now=time.time(), policy=POLICY, me=ME, running=alive, mode="on", describe=scale.describe
    )
    assert claimed["action"] == f"add host {app['app']}-2 and deploy {app['app']} 2.0.0 on it"

    def register(job, targets, labels):
        PrometheusHook().register_targets(job, targets, labels, confirm=False)

    [done] = scale.add_instance([claimed], hook=hook, register=register, request_id=uniq("r"), clock=time.time)
    assert done["deployed"] and done["target_registered"] and not done.get("error")
    (new,) = query_ci(sandbox, "app_instance", f"{app['app']}@{app['app']}-2")
    assert new["attributes"]["status"] == "running" and new["attributes"]["version"] == "2.0.0"
    assert done["instance"] == new["attributes"]["target"]
    (ci,) = query_ci(sandbox, "app", app["app"])
    assert [i["host"] for i in ci["attributes"]["instances"]] == [f"{app['app']}-1", f"{app['app']}-2"]
    sd = json.loads((prometheus.file_sd_dir / f"{job_name(app['app'])}.json").read_text())
    assert done["instance"] in json.dumps(sd)

    [judged] = instance.judge([done], {done["instance"]: True}, now=time.time())
    instance.record([judged], hook=hook, me=ME, now=time.time())
    # another firing episode inside the cooldown does not scale again
    [again] = plan(app, headroom(starts="2026-12-01T21:00:00Z"))
    assert again["decision"] == COOLDOWN and again["instances"] == 2


def test_at_limit_and_another_models_alert(sandbox, app):
    [full] = plan(app, headroom(), max_instances=1)
    assert full["decision"] == AT_LIMIT and "runs 1 instance(s)" in full["reason"]
    [other] = plan(app, headroom(model="ledger"))
    assert other["decision"] == "ignored" and other["target"] is None
    [dry] = plan(app, headroom(), dry_run=True)
    assert dry["decision"] == "dry_run" and dry["would"] == ACT and dry["action"].startswith("add host")
    # none of them changed anything: one instance, no second host
    (ci,) = query_ci(sandbox, "app", app["app"])
    assert len(ci["attributes"]["instances"]) == 1 and query_ci(sandbox, "host", f"{app['app']}-2") == []


def test_no_instance_is_added_while_the_app_rolls_out(sandbox, app):
    hook = WeCubePluginHook()
    rollout_lock.claim(
        hook, app["app"], "wecube_app_rollout/manual__r", version="2.1.0", now=time.time(), running=alive
    )
    [held] = plan(app, headroom(), rollout=rollout_check(hook, alive))
    assert held["decision"] == ROLLOUT and "wecube_app_rollout/manual__r of version 2.1.0" in held["reason"]
    rollout_lock.release(hook, app["app"], "wecube_app_rollout/manual__r")
    assert plan(app, headroom(), rollout=rollout_check(hook, alive))[0]["decision"] == ACT
