"""Both orchestrations end to end: the real DAGs under ``airflow standalone``, the sandbox plugins
and a real Prometheus, approvals answered through Airflow's REST API.

All first runs are triggered together by one fixture (they proceed concurrently while the tests
check them one by one); only the broken upgrade waits for the good rollout it upgrades, and the
plugin-server-down test runs last, alone (it points ``wecube_default`` at a dead port for a while).
"""

from __future__ import annotations

import copy
import ipaddress
import json
import urllib.request
from pathlib import Path

import pytest
import yaml

from airflow_wecube.util.airflow_api import AirflowAPIError
from tests.e2e.orchestrations.conftest import NETWORK, ROLLOUT, put_connection

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

DESIGN = yaml.safe_load((Path(__file__).resolve().parents[3] / "dags" / "designs" / "network.yml").read_text())
SUBNET = "e2e-roll-subnet"
# fast gates for a 1 s scrape interval; the canary's capacity probe is tested in test_canary_probe.py
ROLLOUT_CONF = {"host_count": 2, "subnet": SUBNET, "rate_window": "5s", "rate": 20, "probe": False}


def e2e_design() -> dict:
    design = copy.deepcopy(DESIGN)
    design["data_center"] = "e2e-dc"
    design["vpc"] = {"name": "e2e-vpc", "cidr": "10.30.0.0/16"}
    for kind in ("route_tables", "security_groups"):
        for item in design[kind]:
            item["name"] = "e2e-" + item["name"]
    return design


def health(target: str) -> dict | None:
    try:
        with urllib.request.urlopen(f"http://{target}/health", timeout=3) as r:
            return json.loads(r.read())
    except OSError:
        return None


def host_status(o, name: str) -> str | None:
    """The host's CI status in the sandbox's CMDB (``running`` | ``destroyed``), None when there is none."""
    items = o.cmdb("host", name=name)
    return items[0]["attributes"]["status"] if items else None


def final_message(o, run_id: str) -> str:
    """report_failure's message (XCom), also checked to be in its log."""
    message = o.sa.client().xcom(ROLLOUT, run_id, "report_failure", key="message")
    # the log is JSON lines (quotes escaped): compare the head of the message
    assert message.splitlines()[0][:50] in o.sa.task_log(ROLLOUT, run_id, "report_failure", chars=20000)
    return message


@pytest.fixture(scope="module")
def runs(orchestrations):
    """Trigger every first run at once: the network build and three rollouts (approve, reject, bad error rate)."""
    o = orchestrations
    # the rollouts' subnet, made straight through the sandbox so they need not wait for the network build
    o.plugin(
        "/network/v1/vpc/create",
        [{"callbackParameter": "v", "name": "e2e-roll-vpc", "cidr": "10.99.0.0/16", "data_center": "e2e-dc"}],
    )
    o.plugin(
        "/network/v1/subnet/create",
        [{"callbackParameter": "s", "name": SUBNET, "vpc": "e2e-roll-vpc", "zone": "z1", "prefix_length": 24}],
    )
    ids = {
        "network": o.sa.trigger(NETWORK, {"design": e2e_design()})["dag_run_id"],
        "shop": o.sa.trigger(ROLLOUT, {**ROLLOUT_CONF, "app": "e2e-shop", "version": "1.0.0"})["dag_run_id"],
        "cart": o.sa.trigger(ROLLOUT, {**ROLLOUT_CONF, "app": "e2e-cart", "version": "1.0.0"})["dag_run_id"],
        "ledger": o.sa.trigger(
            ROLLOUT, {**ROLLOUT_CONF, "app": "e2e-ledger", "version": "1.0.0", "host_count": 1, "error_rate": 0.5}
        )["dag_run_id"],
    }
    # answer the approvals as soon as each is open
    o.wait_open(ROLLOUT, ids["shop"])
    o.sa.client("alice").respond(ROLLOUT, ids["shop"], "approve", "Approve", {"comment": "go"})
    o.wait_open(ROLLOUT, ids["cart"])
    o.sa.client("bob").respond(ROLLOUT, ids["cart"], "approve", "Reject", {"comment": "not this week"})
    o.wait_open(ROLLOUT, ids["ledger"])
    o.sa.client("alice").respond(ROLLOUT, ids["ledger"], "approve", "Approve")
    return ids


def test_network_build_then_rerun_changes_nothing(orchestrations, runs):
    o = orchestrations
    o.wait_run(NETWORK, runs["network"], "success", timeout=180)
    topo = o.sa.client().xcom(NETWORK, runs["network"], "topology")
    design = e2e_design()
    expected_subnets = {f"e2e-vpc-{t['tier']}-{z}" for t in design["subnets"] for z in design["zones"]}
    total = 1 + len(expected_subnets) + len(design["route_tables"]) + len(design["security_groups"])
    assert topo["created"] == total and topo["updated"] == 0

    # the CMDB, read straight from the sandbox, holds the topology, every subnet inside the VPC, none overlapping
    [vpc] = o.cmdb("vpc", name="e2e-vpc")
    assert vpc["guid"] == topo["vpc"]["guid"] and vpc["attributes"]["cidr"] == "10.30.0.0/16"
    [dc] = o.cmdb("data_center", name="e2e-dc")
    assert vpc["attributes"]["data_center_guid"] == dc["guid"]
    subnets = [s for s in o.cmdb("subnet") if s["attributes"].get("vpc_guid") == vpc["guid"]]
    assert {s["name"] for s in subnets} == expected_subnets
    blocks = [ipaddress.ip_network(s["attributes"]["cidr"]) for s in subnets]
    assert all(b.subnet_of(ipaddress.ip_network("10.30.0.0/16")) for b in blocks)
    assert not [(a, b) for i, a in enumerate(blocks) for b in blocks[i + 1 :] if a.overlaps(b)]
    for z in design["zones"]:
        assert {s["attributes"]["zone"] for s in subnets if s["name"].endswith(z)} == {z}
    groups = {g["name"]: g for g in o.cmdb("security_group") if g["attributes"]["vpc_guid"] == vpc["guid"]}
    assert set(groups) == {g["name"] for g in design["security_groups"]}
    assert groups["e2e-sg-sz-prod-web"]["attributes"]["rules"][0]["port_range"] == "443"
    assert [r["name"] for r in o.cmdb("route_table") if r["attributes"]["vpc_guid"] == vpc["guid"]] == [
        "e2e-rt-sz-prod-main"
    ]
    # the subnet fan-out ran as one mapped task per zone
    states = o.states(NETWORK, runs["network"])
    assert {k for k in states if k.startswith("create_subnets[")} == {f"create_subnets[{i}]" for i in range(2)}

    rerun = o.sa.trigger(NETWORK, {"design": design})["dag_run_id"]
    o.wait_run(NETWORK, rerun, "success", timeout=180)
    again = o.sa.client().xcom(NETWORK, rerun, "topology")
    assert again["created"] == 0 and again["updated"] == 0 and again["unchanged"] == total
    assert again["vpc"] == topo["vpc"] and again["subnets"] == topo["subnets"]
    assert len([s for s in o.cmdb("subnet") if s["attributes"].get("vpc_guid") == vpc["guid"]]) == len(subnets)


def test_rollout_approved_runs_monitored_app(orchestrations, runs):
    o = orchestrations
    run_id = runs["shop"]
    o.wait_run(ROLLOUT, run_id, "success", timeout=180)
    states = o.states(ROLLOUT, run_id)
    assert states["rollback"] == states["release_hosts"] == states["report_failure"] == "skipped"
    assert states["create_hosts[0]"] == states["create_hosts[1]"] == "success"
    tis = o.sa.client().task_instances(ROLLOUT, run_id)
    assert {tis[f"create_hosts[{i}]"]["rendered_map_index"] for i in (0, 1)} == {"e2e-shop-1", "e2e-shop-2"}

    # the approver saw the plan: hosts, their IPs and the version
    detail = o.sa.client().get_hitl_detail(ROLLOUT, run_id, "approve")
    hosts = o.sa.client().xcom(ROLLOUT, run_id, "plan", key="hosts")
    assert "e2e-shop 1.0.0" in detail["body"]
    for h in hosts:
        assert h["name"] in detail["body"] and h["ip"] in detail["body"]
        assert ipaddress.ip_address(h["ip"]) in ipaddress.ip_network("10.99.0.0/24")

    # the canary first (the probe off: skipped), then one batched deploy call; the app answers on each host's port
    assert states["no_probe"] == "success" and states["probe"] == "skipped" and states["probe_decision"] == "skipped"
    deployed = o.sa.client().xcom(ROLLOUT, run_id, "deploy")
    assert sorted(d["host"] for d in deployed) == ["e2e-shop-1", "e2e-shop-2"]
    calls = [
        c
        for c in o.sandbox.calls()
        if c["serviceName"] == "deploy/app/deploy" and any(i.get("app") == "e2e-shop" for i in c["inputs"])
    ]
    assert [len(c["inputs"]) for c in calls] == [1, 2]
    assert [d["changed"] for d in deployed] == ["N", "Y"]  # the canary already ran the version
    for d in deployed:
        assert health(d["target"]) == {"status": "ok", "version": "1.0.0", "pid": d["pid"]}

    # Prometheus scrapes them (up == 1) and loaded the app's alert rules
    up = o.promql('up{job="wecube_app_e2e-shop"}')
    assert {s["metric"]["instance"] for s in up} == {d["target"] for d in deployed}
    assert {s["value"][1] for s in up} == {"1"}
    groups = {g["name"]: g for g in o.prometheus.api("rules")["data"]["groups"]}
    assert [r["name"] for r in groups["wecube_app_e2e-shop"]["rules"]] == ["E2eShopDown", "E2eShopErrorRateHigh"]
    down = groups["wecube_app_e2e-shop"]["rules"][0]
    assert down["labels"] == {
        "severity": "critical",
        "app": "e2e-shop",
        "job": "wecube_app_e2e-shop",
        "instance": "{{ $labels.instance }}",
    }

    # the CMDB records the app and its instances
    [app] = o.cmdb("app", name="e2e-shop")
    assert app["attributes"]["version"] == "1.0.0"
    assert sorted(i["target"] for i in app["attributes"]["instances"]) == sorted(d["target"] for d in deployed)
    for h in ("e2e-shop-1", "e2e-shop-2"):
        [inst] = o.cmdb("app_instance", name=f"e2e-shop@{h}")
        assert inst["attributes"]["status"] == "running" and inst["attributes"]["version"] == "1.0.0"


def test_rollout_rejected_deploys_nothing(orchestrations, runs):
    o = orchestrations
    run_id = runs["cart"]
    o.wait_run(ROLLOUT, run_id, "failed", timeout=120)
    states = o.states(ROLLOUT, run_id)
    assert states["approve"] == "failed" and states["deploy_canary"] == states["deploy"] == "upstream_failed"
    assert states["rollback"] == "skipped"
    assert states["release_hosts"] == "success" and states["report_failure"] == "failed"
    assert "Rejected by bob: not this week" in o.sa.task_log(ROLLOUT, run_id, "approve", chars=20000)
    # the hosts made for the approver's evidence are given back, and the run says so
    hosts = o.sa.client().xcom(ROLLOUT, run_id, "plan", key="hosts")
    assert sorted(h["name"] for h in hosts) == ["e2e-cart-1", "e2e-cart-2"]
    assert {host_status(o, h["name"]) for h in hosts} == {"destroyed"}
    message = final_message(o, run_id)
    assert message.splitlines()[0] == "rollout of e2e-cart 1.0.0 was not approved: Rejected by bob: not this week"
    assert "Rollback: nothing was deployed, nothing to roll back." in message
    assert "released host(s) " + ", ".join(f"{h['name']} ({h['ip']})" for h in hosts) in message
    assert o.cmdb("app_instance", name="e2e-cart@e2e-cart-1") == []
    assert o.cmdb("app", name="e2e-cart") == []
    assert not (o.prometheus.file_sd_dir / "wecube_app_e2e-cart.json").exists()


def test_error_rate_gate_fails_and_first_deploy_is_stopped(orchestrations, runs):
    o = orchestrations
    run_id = runs["ledger"]
    o.wait_run(ROLLOUT, run_id, "failed", timeout=180)
    states = o.states(ROLLOUT, run_id)
    assert states["deploy"] == "success" and states["gate_up"] == "success"
    assert states["gate_error_rate"] == "failed" and states["record_cmdb"] == "upstream_failed"
    assert states["rollback"] == states["release_hosts"] == "success" and states["report_failure"] == "failed"
    summary = o.sa.client().xcom(ROLLOUT, run_id, "rollback")
    assert summary["actions"][0] == "e2e-ledger-1: stopped (first deploy, nothing to roll back to)"
    message = final_message(o, run_id)
    assert message.startswith("rollout of e2e-ledger 1.0.0 failed at gate_error_rate: error rate above 0.05")
    assert "Rollback: e2e-ledger-1: stopped (first deploy, nothing to roll back to)" in message
    assert "released host(s) e2e-ledger-1 (10.99.0." in message
    # the host this run created is given back (its app stopped with it)
    assert host_status(o, "e2e-ledger-1") == "destroyed"
    [inst] = o.cmdb("app_instance", name="e2e-ledger@e2e-ledger-1")
    assert inst["attributes"]["status"] == "destroyed"
    assert health(inst["attributes"]["target"]) is None  # nothing answers any more
    # the job's file_sd file is gone (deregistering its last target deletes it) or empty
    sd_file = o.prometheus.file_sd_dir / "wecube_app_e2e-ledger.json"
    assert not sd_file.exists() or json.loads(sd_file.read_text()) == []
    assert "wecube_app_e2e-ledger" not in {g["name"] for g in o.prometheus.api("rules")["data"]["groups"]}


def test_broken_version_is_rolled_back(orchestrations, runs):
    o = orchestrations
    o.wait_run(ROLLOUT, runs["shop"], "success", timeout=180)
    before = {d["host"]: d for d in o.sa.client().xcom(ROLLOUT, runs["shop"], "deploy")}
    run_id = o.sa.trigger(ROLLOUT, {**ROLLOUT_CONF, "app": "e2e-shop", "version": "2.0.0-broken"})["dag_run_id"]
    detail = o.wait_open(ROLLOUT, run_id)
    assert "e2e-shop 2.0.0-broken" in detail["body"]
    o.sa.client("alice").respond(ROLLOUT, run_id, "approve", "Approve")
    o.wait_run(ROLLOUT, run_id, "failed", timeout=180)

    states = o.states(ROLLOUT, run_id)
    assert states["deploy_canary"] == "failed" and states["deploy"] == "upstream_failed"
    assert states["rollback"] == states["release_hosts"] == "success" and states["report_failure"] == "failed"
    summary = o.sa.client().xcom(ROLLOUT, run_id, "rollback")
    assert summary["actions"] == ["e2e-shop-1: rolled back from 2.0.0-broken to 1.0.0"]  # only the canary was touched
    message = final_message(o, run_id)
    assert message.startswith(
        "rollout of e2e-shop 2.0.0-broken failed at deploy_canary: deploy of e2e-shop 2.0.0-broken failed on 1 of 1 "
        "host(s)"
    )
    assert "health check" in message.splitlines()[0]
    # the hosts were there before this run: they are kept
    assert "Hosts: kept host(s) e2e-shop-1, e2e-shop-2 (they existed before this run)." in message
    assert {host_status(o, h) for h in ("e2e-shop-1", "e2e-shop-2")} == {"running"}
    # 1.0.0 answers again on the same ports (the canary restarted, the other host untouched), still scraped
    for host, d in before.items():
        answer = health(d["target"])
        assert answer and answer["version"] == "1.0.0" and (answer["pid"] != d["pid"]) == (host == "e2e-shop-1")
        [inst] = o.cmdb("app_instance", name=f"e2e-shop@{host}")
        assert inst["attributes"]["version"] == "1.0.0" and inst["attributes"]["status"] == "running"
    o.sa.wait_for(
        lambda: {s["value"][1] for s in o.promql('up{job="wecube_app_e2e-shop"}')} == {"1"}, 30, "targets up again"
    )


def test_failed_first_deploy_releases_its_hosts(orchestrations):
    o = orchestrations
    run_id = o.sa.trigger(ROLLOUT, {**ROLLOUT_CONF, "app": "e2e-bad", "version": "1.0.0-broken", "host_count": 1})[
        "dag_run_id"
    ]
    o.wait_open(ROLLOUT, run_id)
    o.sa.client("alice").respond(ROLLOUT, run_id, "approve", "Approve")
    o.wait_run(ROLLOUT, run_id, "failed", timeout=180)
    states = o.states(ROLLOUT, run_id)
    assert states["deploy_canary"] == "failed" and states["rollback"] == "success"
    assert states["release_hosts"] == "success" and states["report_failure"] == "failed"
    message = final_message(o, run_id)
    first = message.splitlines()[0]
    assert first.startswith(
        "rollout of e2e-bad 1.0.0-broken failed at deploy_canary: deploy of e2e-bad 1.0.0-broken "
        "failed on 1 of 1 host(s): e2e-bad-1: health check"
    )
    assert "released host(s) e2e-bad-1 (10.99.0." in message
    assert host_status(o, "e2e-bad-1") == "destroyed"


def test_bad_params_are_refused_at_trigger(orchestrations):
    o = orchestrations
    for conf, field in (
        ({"subnet": ""}, "subnet"),
        ({"rate_window": "0s"}, "rate_window"),
        ({"scrape_interval": 1e-09}, "scrape_interval"),
    ):
        with pytest.raises(AirflowAPIError) as e:
            o.sa.trigger(ROLLOUT, {**ROLLOUT_CONF, "app": "e2e-refused", **conf})
        assert e.value.status == 400 and field in str(e.value.detail), e.value
    with pytest.raises(AirflowAPIError) as e:
        o.sa.trigger(NETWORK, {"design": {"data_center": "e2e-dc"}})
    assert e.value.status == 400 and "design" in str(e.value.detail), e.value
    assert host_status(o, "e2e-refused-1") is None


def test_unknown_conf_key_fails_before_any_host(orchestrations):
    o = orchestrations
    run_id = o.sa.trigger(ROLLOUT, {**ROLLOUT_CONF, "app": "e2e-typo", "host_cuont": 3})["dag_run_id"]
    o.wait_run(ROLLOUT, run_id, "failed", timeout=120)
    states = o.states(ROLLOUT, run_id)
    assert states["host_requests"] == "failed" and states["create_hosts"] == "upstream_failed"
    message = final_message(o, run_id)
    assert message.startswith("rollout of e2e-typo 1.0.0 failed at host_requests: unknown parameter(s) 'host_cuont'")
    assert "Hosts: no hosts were created by this run." in message
    assert host_status(o, "e2e-typo-1") is None


def test_a_capacity_spec_that_does_not_load_fails_before_any_host(orchestrations):
    o = orchestrations
    conf = {**ROLLOUT_CONF, "app": "e2e-nospec", "probe": True, "capacity_spec": "nope"}
    run_id = o.sa.trigger(ROLLOUT, conf)["dag_run_id"]
    o.wait_run(ROLLOUT, run_id, "failed", timeout=120)
    assert o.states(ROLLOUT, run_id)["create_hosts"] == "upstream_failed"
    first = final_message(o, run_id).splitlines()[0]
    assert first.startswith("rollout of e2e-nospec 1.0.0 failed at host_requests: capacity_spec 'nope': no spec file")
    assert host_status(o, "e2e-nospec-1") is None and o.cmdb("rollout_lock", name="e2e-nospec") == []


def test_plugin_server_down_after_approval_names_both_failures(orchestrations, runs):
    """The deploy and then the rollback and the release cannot reach the plugin server: report_failure
    still runs and names the deploy's error, the rollback's, and the hosts it could not release."""
    from tests.fixtures.sandbox import free_port

    o = orchestrations
    for name, run_id in runs.items():  # alone: wecube_default is pointed at a dead port for a while
        dag_id = NETWORK if name == "network" else ROLLOUT
        o.sa.wait_for(
            lambda d=dag_id, r=run_id: o.sa.client().get_run(d, r)["state"] in ("success", "failed"),
            240,
            f"run {dag_id}/{run_id} to end",
        )
    run_id = o.sa.trigger(ROLLOUT, {**ROLLOUT_CONF, "app": "e2e-down", "host_count": 1})["dag_run_id"]
    o.wait_open(ROLLOUT, run_id)
    [host] = o.sa.client().xcom(ROLLOUT, run_id, "plan", key="hosts")
    client = o.sa.client()
    dead = f"http://127.0.0.1:{free_port()}"
    put_connection(
        client,
        "wecube_default",
        {
            "conn_type": "wecube",
            "host": dead,
            "password": o.sandbox.token,
            "extra": json.dumps({"retry_limit": 1, "retry_delay": 0.2}),
        },
    )
    try:
        o.sa.client("alice").respond(ROLLOUT, run_id, "approve", "Approve")
        o.wait_run(ROLLOUT, run_id, "failed", timeout=180)
    finally:
        put_connection(
            client,
            "wecube_default",
            {"conn_type": "wecube", "host": o.sandbox.url, "password": o.sandbox.token, "extra": "{}"},
        )
    states = o.states(ROLLOUT, run_id)
    assert states["deploy_canary"] == "failed" and states["rollback"] == "failed"
    assert states["release_hosts"] == "failed" and states["report_failure"] == "failed"
    message = final_message(o, run_id)
    first = message.splitlines()[0]
    assert first.startswith("rollout of e2e-down 1.0.0 failed at deploy_canary: ") and "deploy/app/deploy" in first
    assert "\nRollback: the rollback FAILED: could not read what was deployed on e2e-down-1" in message
    assert "\nHosts: host(s) e2e-down-1 were NOT released (" in message
    assert "destroy them with host/host/destroy" in message
    # as the message says, the host is still there: give it back by hand
    assert host_status(o, "e2e-down-1") == "running"
    o.plugin("/host/v1/host/destroy", [{"callbackParameter": "h", "host": host["guid"]}])
