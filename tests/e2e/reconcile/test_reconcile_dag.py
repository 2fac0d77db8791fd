"""``wecube_reconcile`` under the shared ``airflow standalone``, as a user meets it after a network
build: drifts injected through the plugins' own interfaces (a subnet deleted, a route changed, a
security group added, a host destroyed under a running instance, a CMDB record removed); a dry run
changes nothing; a run fixes the fixable and asks about the stray security group in Required Actions;
*Apply* deletes it; the run shows on the Loop actions page; the next run has nothing to do."""

from __future__ import annotations

import pytest
import requests

from airflow_wecube.exceptions import WeCubeError
from airflow_wecube.orchestrations.rollout import app_attributes
from airflow_wecube.util.airflow_api import AirflowAPIError
from tests.e2e.orchestrations.conftest import NETWORK, REPO, orchestrations  # noqa: F401  (the shared standalone)
from tests.e2e.orchestrations.test_ui import _get

DAG = "wecube_reconcile"
VPC, DB_SUBNET, WEB_SUBNET = "vpc-sz-prod", "vpc-sz-prod-db-sz-b", "vpc-sz-prod-web-sz-a"
ROUTES, SG_DB, STRAY = "rt-sz-prod-main", "sg-sz-prod-db", "sg-e2e-stray"
APP = "e2e-rc"
DRIFTS = {
    f"subnet/{DB_SUBNET}": "missing",
    f"route_table/{ROUTES}": "changed",
    f"security_group/{STRAY}": "extra",
    f"security_group/{SG_DB}": "stale_record",
    f"app_instance/{APP}@{APP}-2": "missing",
}


def one(o, path: str, **entity) -> dict:
    (out,) = o.plugin(path, [{"callbackParameter": "x", **entity}])
    return out


def settle(o, timeout: float = 240) -> None:
    """Wait until no reconcile run is active; one parked on a question gets *Leave it*."""
    client = o.sa.client()

    def check():
        try:
            runs = client.request("GET", f"/api/v2/dags/{DAG}/dagRuns", params={"limit": 100})["dag_runs"]
        except WeCubeError as e:
            if isinstance(e, AirflowAPIError):
                raise
            return None
        active = [r for r in runs if r["state"] in ("queued", "running")]
        for r in active:
            try:
                detail = client.get_hitl_detail(DAG, r["dag_run_id"], "ask")
            except AirflowAPIError:
                continue
            if not detail["response_received"]:
                client.respond(DAG, r["dag_run_id"], "ask", "Leave it")
        return not active or None

    o.sa.wait_for(check, timeout, "no wecube_reconcile run active", interval=2)


@pytest.fixture(scope="module")
def reconcile(orchestrations):  # noqa: F811
    o = orchestrations
    if not one(o, "/network/v1/vpc/query", name=VPC)["items"]:  # the default design, as after `make demo`
        o.wait_run(NETWORK, o.sa.trigger(NETWORK)["dag_run_id"], "success", timeout=240)
    # an app on two hosts, recorded as the rollout records it
    deployed = []
    for n in (1, 2):
        host = one(o, "/host/v1/host/create", name=f"{APP}-{n}", subnet=WEB_SUBNET)
        deployed.append(one(o, "/deploy/v1/app/deploy", host=host["guid"], app=APP, version="1.0.0"))
    ci = one(o, "/cmdb/v1/ci/create", type="app", name=APP)
    one(
        o,
        "/cmdb/v1/ci/update",
        guid=ci["guid"],
        attributes=app_attributes({"app": APP, "version": "1.0.0"}, deployed, [], {}, "manual__rollout"),
    )
    o.sa.add_dags([REPO / "dags" / "wecube_reconcile.py"])
    o.sa.wait_for_dag(DAG)
    settle(o)  # the session's standalone runs it only when triggered ([wecube] reconcile_schedule none)
    yield o
    o.sa.client().request("PATCH", f"/api/v2/dags/{DAG}", json={"is_paused": True})
    settle(o)
    for n in (1, 2):
        o.sandbox.post("/host/v1/host/destroy", [{"callbackParameter": "x", "host": f"{APP}-{n}"}])
    o.sandbox.post("/cmdb/v1/ci/delete", [{"callbackParameter": "x", "guid": ci["guid"]}])  # the app is gone


def drift(o) -> None:
    assert one(o, "/network/v1/subnet/delete", name=DB_SUBNET)["deleted"] == "Y"
    one(
        o,
        "/network/v1/route-table/create",
        name=ROUTES,
        vpc=VPC,
        routes=[{"destination": "0.0.0.0/0", "target": "internet"}],
    )
    one(o, "/network/v1/security-group/create", name=STRAY, vpc=VPC, rules=[])
    assert one(o, "/host/v1/host/destroy", host=f"{APP}-2")["destroyed"] == "Y"
    [record] = o.cmdb("security_group", name=SG_DB)
    assert one(o, "/cmdb/v1/ci/delete", guid=record["guid"])["deleted"] == "Y"


def mine(entries: list[dict]) -> dict[str, dict]:
    return {e["key"]: e for e in entries if e["key"] in DRIFTS}


def test_reconcile_fixes_asks_and_then_has_nothing_to_do(reconcile):
    o = reconcile
    client = o.sa.client()
    drift(o)

    dry = o.sa.trigger(DAG, {"dry_run": True})["dag_run_id"]
    o.wait_run(DAG, dry, "success", timeout=240)
    planned = mine(client.xcom(DAG, dry, "plan", key="plan")["entries"])
    assert {k: e["class"] for k, e in planned.items()} == DRIFTS
    assert {e["decision"] for e in planned.values()} == {"dry_run"}
    assert one(o, "/network/v1/subnet/query", name=DB_SUBNET)["items"] == []  # nothing changed

    run_id = o.sa.trigger(DAG)["dag_run_id"]
    detail = o.wait_open(DAG, run_id, task_id="ask", timeout=240)
    assert STRAY in detail["body"] and "delete" in detail["body"]
    applied = mine(client.xcom(DAG, run_id, "apply", key="entries"))
    assert {k for k, e in applied.items() if e.get("outcome") == "fixed"} == set(DRIFTS) - {f"security_group/{STRAY}"}
    assert all(e["after"]["status"] == "ok" for e in applied.values() if e.get("outcome") == "fixed")
    assert one(o, "/network/v1/subnet/query", name=DB_SUBNET)["items"]
    client.respond(DAG, run_id, "ask", "Apply")
    o.wait_run(DAG, run_id, "success", timeout=240)
    assert one(o, "/network/v1/security-group/query", name=STRAY)["items"] == []
    message = client.xcom(DAG, run_id, "report", key="message")
    assert f"security_group {STRAY}: extra -> delete, act -> fixed" in message, message

    # shown on the Loop actions page's JSON twin
    actions = _get(o.sa, "/wecube/api/actions", "admin", limit=100).json()
    assert any(a["run_id"] == run_id and a["message"] == message for a in actions["items"]), actions
    # and the design page is clean again for what was drifted
    designs = _get(o.sa, "/wecube/api/designs", "admin").json()
    rows = {n["key"]: n["status"] for n in designs["network"] + designs["instances"]}
    assert {k: rows.get(k, "ok") for k in DRIFTS if k != f"security_group/{STRAY}"} == dict.fromkeys(
        set(DRIFTS) - {f"security_group/{STRAY}"}, "ok"
    ) and f"security_group/{STRAY}" not in rows

    again = o.sa.trigger(DAG)["dag_run_id"]
    o.wait_run(DAG, again, "success", timeout=240)
    left = client.xcom(DAG, again, "plan", key="plan")["entries"]
    assert mine(left) == {} and not [e for e in left if e["decision"] == "act"], left


def test_a_plugin_down_mid_run_fails_that_item_only_and_the_next_run_retries_it(reconcile):
    o = reconcile
    client = o.sa.client()
    assert one(o, "/network/v1/subnet/delete", name=DB_SUBNET)["deleted"] == "Y"
    one(
        o,
        "/network/v1/route-table/create",
        name=ROUTES,
        vpc=VPC,
        routes=[{"destination": "0.0.0.0/0", "target": "internet"}],
    )

    def outage(calls: int) -> None:
        r = requests.post(
            f"{o.sandbox.url}/sandbox/outages",
            json={"service": "network/subnet/create", "calls": calls},
            headers=o.sandbox.headers,
            timeout=10,
        )
        assert r.status_code == 200, r.text

    outage(100)  # the subnet plugin answers 503 for this run, through the hook's retries
    try:
        run_id = o.sa.trigger(DAG)["dag_run_id"]
        o.wait_run(DAG, run_id, "failed", timeout=240)
    finally:
        outage(0)
    done = mine(client.xcom(DAG, run_id, "resolve", key="entries"))
    assert done[f"subnet/{DB_SUBNET}"]["outcome"] == "failed" and "503" in done[f"subnet/{DB_SUBNET}"]["error"]
    assert done[f"route_table/{ROUTES}"]["outcome"] == "fixed"
    assert one(o, "/network/v1/subnet/query", name=DB_SUBNET)["items"] == [] and o.cmdb("subnet", name=DB_SUBNET) == []
    assert "1 failed" in client.xcom(DAG, run_id, "report", key="message")

    again = o.sa.trigger(DAG)["dag_run_id"]
    o.wait_run(DAG, again, "success", timeout=240)
    done = mine(client.xcom(DAG, again, "resolve", key="entries"))
    assert {k: e["outcome"] for k, e in done.items()} == {f"subnet/{DB_SUBNET}": "fixed"}


def test_the_kill_switch_off_asks_and_approve_waits_for_a_person(reconcile):
    o = reconcile
    client = o.sa.client()
    routes = [{"destination": "0.0.0.0/0", "target": "internet"}]

    def rt() -> list:
        return one(o, "/network/v1/route-table/query", name=ROUTES)["items"][0]["routes"]

    try:
        client.set_variable("wecube_auto_remediation", "off")
        one(o, "/network/v1/route-table/create", name=ROUTES, vpc=VPC, routes=routes)
        run_id = o.sa.trigger(DAG)["dag_run_id"]
        detail = o.wait_open(DAG, run_id, task_id="ask", timeout=240)
        assert ROUTES in detail["body"] and "automatic changes are off" in detail["body"]
        assert rt() == routes  # recorded and asked only
        client.respond(DAG, run_id, "ask", "Apply")  # a person's yes applies it
        o.wait_run(DAG, run_id, "success", timeout=240)
        assert rt() != routes

        client.set_variable("wecube_auto_remediation", "approve")
        one(o, "/network/v1/route-table/create", name=ROUTES, vpc=VPC, routes=routes)
        run_id = o.sa.trigger(DAG)["dag_run_id"]
        detail = o.wait_open(DAG, run_id, task_id="approve", timeout=240)
        assert ROUTES in detail["body"]
        assert rt() == routes  # nothing before the approval
        client.respond(DAG, run_id, "approve", "Approve")
        o.wait_run(DAG, run_id, "success", timeout=240)
        assert rt() != routes
    finally:
        client.set_variable("wecube_auto_remediation", "on")
