"""The orchestrations on the CeleryExecutor cluster of `make cluster`: PostgreSQL, Redis, two Celery
workers, a triggerer. Every run is triggered at once by one fixture; the tests then check each.

Each worker runs from its own folder (its working directory and AIRFLOW_HOME), not the scheduler's:
the registry, the Prometheus folders, the capacity store and the logs are reached through the shared
paths of the settings only (docs/cluster.md).
"""

from __future__ import annotations

import copy
import ipaddress
import json
import os
import urllib.request

import pytest
import requests
import yaml

from tests.e2e.cluster.conftest import REPO, WORKERS
from tests.fixtures.waiting import wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(1500)]

NETWORK, ROLLOUT, FIT, CALLS = (
    "wecube_network_build",
    "wecube_app_rollout",
    "wecube_cluster_fit",
    "wecube_cluster_calls",
)
SUBNET = "cl-roll-subnet"


def design() -> dict:
    d = copy.deepcopy(yaml.safe_load((REPO / "dags" / "designs" / "network.yml").read_text()))
    d["data_center"] = "cl-dc"
    d["vpc"] = {"name": "cl-vpc", "cidr": "10.40.0.0/16"}
    for kind in ("route_tables", "security_groups"):
        for item in d[kind]:
            item["name"] = "cl-" + item["name"]
    return d


@pytest.fixture(scope="module")
def runs(cluster):
    """Every run at once; the rollout's approval answered over REST as soon as it is open."""
    cluster.plugin(
        "/network/v1/vpc/create",
        [{"callbackParameter": "v", "name": "cl-roll-vpc", "cidr": "10.98.0.0/16", "data_center": "cl-dc"}],
    )
    cluster.plugin(
        "/network/v1/subnet/create",
        [{"callbackParameter": "s", "name": SUBNET, "vpc": "cl-roll-vpc", "zone": "z1", "prefix_length": 24}],
    )
    ids = {
        "hello": cluster.trigger("wecube_hello", {"app": "cl-hello"}),
        "network": cluster.trigger(NETWORK, {"design": design()}),
        "rollout": cluster.trigger(
            ROLLOUT,
            {
                "app": "cl-shop",
                "version": "1.0.0",
                "host_count": 2,
                "subnet": SUBNET,
                "rate_window": "20s",
                "probe": False,
            },
        ),
        "fit": cluster.trigger(FIT),
        "calls": cluster.trigger(CALLS, {"n": 8, "seconds": "2"}),
    }

    def open_approval():
        ti = cluster.ti(ROLLOUT, ids["rollout"], "approve")
        if ti and ti["state"] in ("failed", "upstream_failed", "success"):
            raise AssertionError(
                f"approve ended {ti['state']} before it was answered: {cluster.states(ROLLOUT, ids['rollout'])}"
            )
        return ti if ti and ti["state"] == "awaiting_input" else None

    wait_for(open_approval, 300, "the rollout's approval to open")
    with cluster.client() as c:
        c.respond(ROLLOUT, ids["rollout"], "approve", "Approve", {"comment": "cluster e2e"})
    # the PromQL gate of the fit DAG waits in the triggerer: its task is deferred, not on a worker
    ids["deferred_seen"] = wait_for(
        lambda: (cluster.ti(FIT, ids["fit"], "wait_for_history") or {}).get("state") == "deferred" or None,
        240,
        "wait_for_history deferred",
    )
    return ids


def test_hello(cluster, runs):
    cluster.wait_run("wecube_hello", runs["hello"])
    (out,) = cluster.plugin("/cmdb/v1/ci/query", [{"callbackParameter": "q", "type": "app", "name": "cl-hello"}])
    assert out["items"][0]["attributes"]["owner"] == runs["hello"]


def test_network_build(cluster, runs):
    cluster.wait_run(NETWORK, runs["network"])
    with cluster.client() as c:
        topo = c.xcom(NETWORK, runs["network"], "topology")
    d = design()
    subnets = {f"cl-vpc-{t['tier']}-{z}" for t in d["subnets"] for z in d["zones"]}
    assert topo["created"] == 1 + len(subnets) + len(d["route_tables"]) + len(d["security_groups"])
    assert {k for k in cluster.states(NETWORK, runs["network"]) if k.startswith("create_subnets[")} == {
        f"create_subnets[{i}]" for i in range(len(d["zones"]))
    }


def test_rollout_approved_over_rest(cluster, runs):
    cluster.wait_run(ROLLOUT, runs["rollout"], timeout=400)
    with cluster.client() as c:
        deployed = c.xcom(ROLLOUT, runs["rollout"], "deploy")
    assert sorted(d["host"] for d in deployed) == ["cl-shop-1", "cl-shop-2"]
    for d in deployed:
        with urllib.request.urlopen(f"http://{d['target']}/health", timeout=5) as r:
            assert json.load(r)["version"] == "1.0.0"
        assert ipaddress.ip_address(d["target"].split(":")[0])
    # the worker wrote the target file in the shared file_sd folder; Prometheus scrapes the apps
    up = requests.get(
        f"{cluster.prometheus_url}/api/v1/query", params={"query": 'up{job="wecube_app_cl-shop"}'}, timeout=10
    ).json()["data"]["result"]
    assert {s["metric"]["instance"] for s in up} == {d["target"] for d in deployed}
    file_sd = [f.read_text() for f in (cluster.dir / "shared" / "prometheus" / "file_sd").glob("*.json")]
    assert all(any(d["target"] in text for text in file_sd) for d in deployed)


def test_deferrable_sensor_resumed_by_the_triggerer_then_a_capacity_fit(cluster, runs):
    cluster.wait_run(FIT, runs["fit"], timeout=400)
    assert runs["deferred_seen"]
    # the sensor deferred on a worker; the triggerer polled Prometheus (its own log of the trigger, in
    # the shared log folder) until the condition held; a worker resumed the task
    logs = cluster.dir / "shared" / "logs" / f"dag_id={FIT}" / f"run_id={runs['fit']}" / "task_id=wait_for_history"
    assert "Pausing task as DEFERRED" in (logs / "attempt=1.log").read_text()
    (trigger_log,) = logs.glob("attempt=1.log.trigger.*.log")
    polls = [json.loads(line)["event"] for line in trigger_log.read_text().splitlines() if line.startswith("{")]
    assert any("condition '>= 22' not met" in p for p in polls), polls[:5]
    # the rules a worker wrote into the shared rules folder, loaded by Prometheus
    rules = [f.read_text() for f in (cluster.dir / "shared" / "prometheus" / "rules").glob("*.yml")]
    assert any("cluster_fit_y" in text for text in rules)
    # the model the worker fitted is in the shared store, and the api-server (another home) shows it
    (version,) = (cluster.dir / "shared" / "capacity" / "cluster_fit" / "versions").glob("*.json")
    fit = json.loads(version.read_text())["fit"]
    # y = 0.5 x1 + 0.2 x2 + 3 (+ a small term the model does not know), recovered from Prometheus
    coefficients = {k: v["value"] for k, v in fit["coefficients"].items()}
    assert abs(coefficients["x1"] - 0.5) < 0.02 and abs(coefficients["x2"] - 0.2) < 0.02, coefficients
    assert fit["r2"] > 0.99 and fit["n"] >= 20
    with cluster.client() as c:
        models = c.request("GET", "/wecube/api/capacity")
    assert "cluster_fit" in json.dumps(models)


def test_tasks_ran_on_both_workers_each_from_its_own_folder(cluster, runs):
    cluster.wait_run(CALLS, runs["calls"])
    hosts = {}
    for dag_id, key in ((CALLS, "calls"), (NETWORK, "network"), (ROLLOUT, "rollout"), ("wecube_hello", "hello")):
        for name, ti in cluster.tis(dag_id, runs[key]).items():
            # an EmptyOperator (the rollout's no_probe / probe_ok) is marked success by the scheduler itself
            if ti["state"] == "success" and ti.get("operator") != "EmptyOperator":
                hosts[f"{dag_id}.{name}"] = ti["hostname"]
    assert set(hosts.values()) == WORKERS, hosts
    scheduler = {os.readlink(f"/proc/{p}/cwd") for p in cluster.pids("scheduler")}
    assert str(cluster.dir / "scheduler") in scheduler
    for worker in ("worker1", "worker2"):
        cwds = {os.readlink(f"/proc/{p}/cwd") for p in cluster.pids(worker)}
        assert str(cluster.dir / worker) in cwds and str(cluster.dir / worker) not in scheduler, (worker, cwds)


def test_prometheus_sends_alerts_to_alertmanager_which_reaches_the_webhook(cluster, runs):
    """Alertmanager is part of the cluster: Prometheus knows it, and it is configured with the
    api-server's webhook and the secret the alertmanager_default connection holds."""
    am = cluster.values["ALERTMANAGER_URL"]
    active = requests.get(f"{cluster.prometheus_url}/api/v1/alertmanagers", timeout=10).json()["data"]
    assert [a["url"] for a in active["activeAlertmanagers"]] == [f"{am}/api/v2/alerts"]
    config = requests.get(f"{am}/api/v2/status", timeout=10).json()["config"]["original"]
    assert f"{cluster.url.replace('localhost', '127.0.0.1')}/wecube/alerts" in config
    secret = (cluster.dir / "alertmanager" / "webhook-secret").read_text()
    assert (
        secret
        == dict(line.split("=", 1) for line in (cluster.dir / "secrets.env").read_text().splitlines())[
            "ALERTMANAGER_SECRET"
        ]
    )
