"""A human node bound to taskman's asynchronous APPROVAL service, after a timer a person ends early
(``allowContinue``): the timer's Required Actions item is answered "Continue now", the inbox task is
created with the decision links as its options, the option chosen there picks the branch, and the
branch reaching the abnormal end fails the run naming that node."""

from __future__ import annotations

import json

import pytest
import requests

from airflow_wecube.datamodel.client import EntityApi
from airflow_wecube.processes import ProcessStore, read_process_file, validate
from airflow_wecube.processes.routines import parse_check
from tests.e2e.orchestrations.conftest import REPO

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

DAG_ID = "wecube_proc_e2e_taskman"
INBOX = "/taskman/inbox/api/tasks"


def _node(i, t, **kw):
    return {"customAttrs": {"id": i, "name": i, "nodeType": t, "paramInfos": [], **kw}, "selfAttrs": "{}"}


def _process_file(path):
    const = [{"paramName": k, "bindType": "constant", "bindValue": v}
             for k, v in (("taskName", "approve the subnet"), ("roleName", "ops"), ("reporter", "e2e"))]  # fmt: skip
    nodes = [
        _node("n_start", "start"),
        _node("n_wait", "timeInterval", timeConfig=json.dumps({"duration": 10, "unit": "min"}), allowContinue=True),
        _node("n_ask", "human", serviceName="taskman/task/create-custom", routineExpression="cmdb:subnet",
              paramInfos=const),
        _node("n_decide", "decision"),
        _node("n_end", "end"),
        _node("n_halt", "abnormal"),
    ]  # fmt: skip
    flows = [("n_start", "n_wait", ""), ("n_wait", "n_ask", ""), ("n_ask", "n_decide", ""),
             ("n_decide", "n_end", "go"), ("n_decide", "n_halt", "halt")]  # fmt: skip
    edges = [{"customAttrs": {"id": f"e{i}", "name": n, "source": s, "target": t}, "selfAttrs": "{}"}
             for i, (s, t, n) in enumerate(flows)]  # fmt: skip
    path.write_text(json.dumps([{"procDef": {"id": "p", "key": "e2e_taskman", "name": "taskman e2e", "version": "v1",
                                             "rootEntity": "cmdb:subnet"},
                                 "taskNodeInfos": {"nodes": nodes, "edges": edges}}]))  # fmt: skip
    return path


def test_a_taskman_human_node_picks_the_branch_and_the_abnormal_end_fails_the_run(
    orchestrations, plugin_registry, tmp_path
):
    o, sa = orchestrations, orchestrations.sa
    api = EntityApi.at(o.sandbox.url, o.sandbox.token)
    api.create("cmdb", "subnet", [{"name": "e2e-taskman-subnet", "cidr": "10.79.0.0/24"}])
    [subnet] = api.query("cmdb", "subnet", [{"attrName": "name", "op": "eq", "condition": "e2e-taskman-subnet"}])
    [process] = [
        validate(p, plugin_registry, routine_check=parse_check(p.root_entity))
        for p in read_process_file(_process_file(tmp_path / "taskman.json"))
    ]
    ProcessStore(sa.dags_folder / "wecube_processes").save([process], replace=True)
    sa.add_dags([REPO / "dags" / "wecube_processes.py"])
    sa.wait_for_dag(DAG_ID, timeout=180)
    run = sa.trigger(DAG_ID, {"root": subnet["id"]})["dag_run_id"]

    # a 10 min wait a person ends now
    o.wait_open(DAG_ID, run, "n_wait")
    sa.client().respond(DAG_ID, run, "n_wait", "Continue now", {"comment": "no need to wait"})

    def inbox_task():
        r = requests.get(o.sandbox.url + INBOX, params={"procInstId": f"{DAG_ID}/{run}", "status": "open"}, timeout=10)
        r.raise_for_status()
        return (r.json() or [None])[0]

    task = sa.wait_for(inbox_task, 180, f"the inbox task of {run}")
    assert task["callbackParameter"] == subnet["id"]
    # the plugin has the request before the task parks: it then waits deferred, holding no worker
    sa.wait_for_ti_state(DAG_ID, run, "n_ask", "deferred", timeout=60)
    r = requests.post(f"{o.sandbox.url}{INBOX}/{task['id']}/complete",
                      json={"option": "halt", "comment": "stop here", "handler": "alice"}, timeout=30)  # fmt: skip
    assert r.status_code == 200, r.text
    o.wait_run(DAG_ID, run, "failed", timeout=180)
    states = o.states(DAG_ID, run)
    assert states["n_ask"] == "success" and states["n_halt"] == "failed" and states["n_end"] == "skipped"
    assert sa.client().xcom(DAG_ID, run, "n_ask", key="wecube_choice") == "halt"
    assert "abnormal end n_halt" in sa.task_log(DAG_ID, run, "n_halt", chars=8000)
