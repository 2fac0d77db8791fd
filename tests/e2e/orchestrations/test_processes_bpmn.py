"""The shipped BPMN drawing (``dags/processes/host_review.bpmn``) runs under ``airflow standalone``:
a risk check is confirmed before the plugin call, a timer waits deferred, the answer given in
Required Actions picks the flow whose condition holds, the data node writes to the CMDB; then a
dry run of the same process binds and records everything, calls nothing and asks nobody."""

from __future__ import annotations

import pytest

from airflow_wecube.datamodel.client import EntityApi
from airflow_wecube.processes import ProcessStore, read_process_file, validate
from airflow_wecube.processes.routines import parse_check
from tests.e2e.orchestrations.conftest import REPO

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

DAG_ID = "wecube_proc_host_review"
SUBNET = "e2e-bpmn-subnet"


def test_the_bpmn_drawing_runs_and_a_dry_run_calls_nothing(orchestrations, plugin_registry):
    o, sa = orchestrations, orchestrations.sa
    api = EntityApi.at(o.sandbox.url, o.sandbox.token)
    api.create("cmdb", "subnet", [{"name": SUBNET, "cidr": "10.78.0.0/24", "zone": "z1"}])
    [subnet] = api.query("cmdb", "subnet", [{"attrName": "name", "op": "eq", "condition": SUBNET}])
    api.create(
        "cmdb", "host", [{"name": f"e2e-bpmn-{i}", "ip": f"10.78.0.{i}", "subnet": subnet["id"]} for i in (1, 2)]
    )
    hosts = api.query("cmdb", "host", [{"attrName": "subnet", "op": "eq", "condition": subnet["id"]}])
    ids = sorted(h["id"] for h in hosts)
    [process] = [
        validate(p, plugin_registry, routine_check=parse_check(p.root_entity))
        for p in read_process_file(REPO / "dags" / "processes" / "host_review.bpmn")
    ]
    ProcessStore(sa.dags_folder / "wecube_processes").save([process], replace=True)
    sa.add_dags([REPO / "dags" / "wecube_processes.py"])
    sa.wait_for_dag(DAG_ID, timeout=180)

    run = sa.trigger(DAG_ID, {"root": subnet["id"]})["dag_run_id"]
    o.wait_open(DAG_ID, run, "Check__risk_check")
    assert o.states(DAG_ID, run)["Check"] in (None, "none", "scheduled")  # nothing called before the confirm
    sa.client().respond(DAG_ID, run, "Check__risk_check", "Confirm", {"comment": "go"})
    o.wait_open(DAG_ID, run, "Review", timeout=180)
    assert sa.client().get_hitl_detail(DAG_ID, run, "Review")["options"] == ["accept", "stop"]
    sa.client().respond(DAG_ID, run, "Review", "accept", {"comment": "fine"})
    o.wait_run(DAG_ID, run, "success", timeout=180)
    states = o.states(DAG_ID, run)
    assert states["Mark"] == "success" and states["Done"] == "success" and states["Stopped"] == "skipped"
    check = sa.client().xcom(DAG_ID, run, "Check", key="wecube_node")
    assert sorted(c["callbackParameter"] for c in check["calls"]) == ids
    notes = api.query("cmdb", "host", [{"attrName": "subnet", "op": "eq", "condition": subnet["id"]}])
    assert {h["inventory_note"] for h in notes} == {"reviewed in the BPMN demo"}
    assert {h["inventory_status"] for h in notes} == {"mismatch"}  # written back by the check (no such host runs)

    # a dry run: the same bindings recorded, nothing called, nobody asked, every branch followed
    seen = len(o.sandbox.calls())
    dry = sa.trigger(DAG_ID, {"root": subnet["id"], "dry_run": True})["dag_run_id"]
    o.wait_run(DAG_ID, dry, "success", timeout=180)
    assert (
        sa.client().xcom(DAG_ID, dry, "wecube_bind")["nodes"] == sa.client().xcom(DAG_ID, run, "wecube_bind")["nodes"]
    )
    recorded = sa.client().xcom(DAG_ID, dry, "Check", key="wecube_node")
    assert {c["errorMessage"] for c in recorded["calls"]} == {"dry run: not called"}
    since = [c["path"] for c in o.sandbox.calls()[seen:]]
    assert since and all(p.startswith("/cmdb/") and p.endswith(("/query", "/data-model")) for p in since), since
    assert o.states(DAG_ID, dry)["Stopped"] == "success"
