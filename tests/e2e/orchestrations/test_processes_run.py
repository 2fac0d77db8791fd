"""An imported WeCube process runs under ``airflow standalone`` on the sandbox's plugins
(``dags/processes/subnet_inventory.json``): ``wecube_bind`` records what the preview shows, an
entity deselected at start is never acted on, a node that failed for one host is cleared after the
host is fixed and runs again on the same entities with the same requestId, the person's answer in
Required Actions picks the branch, and the sub-process runs once per bound host."""

from __future__ import annotations

import pytest

from airflow_wecube.datamodel.client import EntityApi
from airflow_wecube.datamodel.evaluate import Evaluator
from airflow_wecube.processes import ProcessStore, read_process_file, validate
from airflow_wecube.processes.preview import preview
from airflow_wecube.processes.references import resolve_sub_processes
from airflow_wecube.processes.routines import parse_check
from tests.e2e.orchestrations.conftest import REPO

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

DAG_ID, SUB_DAG = "wecube_proc_subnet_inventory", "wecube_proc_host_audit"
SUBNET = "e2e-proc-subnet"


def _hosts(api: EntityApi) -> dict[str, dict]:
    api.create("cmdb", "subnet", [{"name": SUBNET, "cidr": "10.77.0.0/24", "zone": "z1"}])
    [subnet] = api.query("cmdb", "subnet", [{"attrName": "name", "op": "eq", "condition": SUBNET}])
    api.create("cmdb", "host", [
        {"name": "e2e-proc-1", "ip": "10.77.0.11", "subnet": subnet["id"]},
        {"name": "e2e-proc-2", "ip": "10.77.0.12", "subnet": subnet["id"]},
        {"name": "e2e-proc-bad", "ip": "not-an-ip", "subnet": subnet["id"]},
    ])  # fmt: skip
    rows = api.query("cmdb", "host", [{"attrName": "subnet", "op": "eq", "condition": subnet["id"]}])
    return {"subnet": subnet, **{r["name"]: r for r in rows}}


def test_a_process_runs_with_its_bindings_a_rerun_a_decision_and_sub_processes(orchestrations, plugin_registry):
    o, sa = orchestrations, orchestrations.sa
    api = EntityApi.at(o.sandbox.url, o.sandbox.token)
    world = _hosts(api)
    subnet, bad, kept, dropped = world["subnet"], world["e2e-proc-bad"], world["e2e-proc-1"], world["e2e-proc-2"]
    store = ProcessStore(sa.dags_folder / "wecube_processes")
    processes = [
        validate(p, plugin_registry, routine_check=parse_check(p.root_entity))
        for p in read_process_file(REPO / "dags" / "processes" / "subnet_inventory.json")
    ]
    store.save(resolve_sub_processes(processes, store), replace=True)
    sa.add_dags([REPO / "dags" / "wecube_processes.py"])
    sa.wait_for_dag(DAG_ID, timeout=180)
    sa.wait_for_dag(SUB_DAG, timeout=60)

    # deselected at start: host 2 is never checked by n_check, never audited
    exclude = {"n_check": [dropped["id"]], "n_audit": [dropped["id"], bad["id"]]}
    shown = preview(store.get("subnet_inventory"), Evaluator(api), subnet["id"], exclude)
    assert sorted(e["id"] for e in shown["n_check"]) == sorted([kept["id"], bad["id"]])
    assert [e["id"] for e in shown["n_audit"]] == [kept["id"]]
    run = sa.trigger(DAG_ID, {"root": subnet["id"], "exclude": exclude})["dag_run_id"]

    # the bad host fails n_check; the run fails
    sa.wait_for_ti_state(DAG_ID, run, "n_check", "failed", timeout=300)
    recorded = sa.client().xcom(DAG_ID, run, "wecube_bind")
    assert recorded["nodes"] == shown
    assert recorded["root"]["id"] == subnet["id"]
    first = sa.client().xcom(DAG_ID, run, "n_check", key="wecube_node")
    assert {c["callbackParameter"]: c["errorCode"] for c in first["calls"]}[kept["id"]] == "0"
    assert "not-an-ip" in {c["callbackParameter"]: c["errorMessage"] for c in first["calls"]}[bad["id"]]

    # fixed in the CMDB, the node is cleared: same entities, same requestId, fresh inputs
    api.update("cmdb", "host", [{"id": bad["id"], "ip": "10.77.0.13"}])
    sa.wait_for_run_state(DAG_ID, run, "failed", timeout=120)
    failed = o.states(DAG_ID, run)
    assert failed["n_wait"] == "success" and failed["n_review"] == "upstream_failed", (
        f"{failed}\n{sa.task_log(DAG_ID, run, 'n_wait', chars=6000)}"
    )
    sa.client().request(
        "POST", f"/api/v2/dags/{DAG_ID}/clearTaskInstances",
        json={"dry_run": False, "task_ids": ["n_check"], "dag_run_id": run, "include_downstream": True,
              "only_failed": False, "reset_dag_runs": True},
    )  # fmt: skip
    try:
        sa.wait_for_ti_state(DAG_ID, run, "n_check", "success", timeout=240)
    except AssertionError as e:
        raise AssertionError(f"{e}\n{sa.task_log(DAG_ID, run, 'n_check', chars=6000)}") from None
    o.wait_open(DAG_ID, run, "n_review", timeout=240)
    second = sa.client().xcom(DAG_ID, run, "n_check", key="wecube_node")
    assert second["requestId"] == first["requestId"]
    assert sorted(c["callbackParameter"] for c in second["calls"]) == sorted([kept["id"], bad["id"]])
    assert {c["inputs"]["ip"] for c in second["calls"]} == {"10.77.0.11", "10.77.0.13"}
    assert all(c["errorCode"] == "0" for c in second["calls"])

    # the answer in Required Actions picks the branch: one sub-process run per bound host
    detail = sa.client().get_hitl_detail(DAG_ID, run, "n_review")
    assert detail["options"] == ["audit", "skip"]
    sa.client().respond(DAG_ID, run, "n_review", "audit", {"comment": "go"})
    o.wait_run(DAG_ID, run, "success", timeout=300)
    states = o.states(DAG_ID, run)
    assert states["n_dmerge"] == "success" and states["n_end"] == "success"
    sub_runs = sa.client().request("GET", f"/api/v2/dags/{SUB_DAG}/dagRuns")["dag_runs"]
    mine = [r for r in sub_runs if r["dag_run_id"].startswith(f"{run}__n_audit__")]
    assert [(r["dag_run_id"], r["state"]) for r in mine] == [(f"{run}__n_audit__{kept['id']}", "success")]
    audited = sa.client().xcom(SUB_DAG, mine[0]["dag_run_id"], "s_check", key="wecube_node")
    assert [c["callbackParameter"] for c in audited["calls"]] == [kept["id"]]

    # the host deselected at start was never called for
    called = {
        i["callbackParameter"] for c in o.sandbox.calls() if c["serviceName"] == "host/host/check" for i in c["inputs"]
    }
    assert kept["id"] in called and dropped["id"] not in called
