"""The data model end to end, as a new user tries it after a rollout: ``wecube entities query`` lists
the hosts the rollout placed in a subnet, a DAG task with ``entities=`` calls a plugin for each of
them with inputs from their attributes, and its outputs are on the entities afterwards."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.orchestrations.conftest import REPO, ROLLOUT
from tests.e2e.orchestrations.test_orchestrations import ROLLOUT_CONF

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

SUBNET = "e2e-dm-subnet"
DAG_ID = "wecube_datamodel_e2e"


def wecube(o, *argv: str) -> list[dict]:
    """``wecube entities query ... --json`` with the environment ``. .demo/env`` gives a user."""
    env = {**os.environ, "WECUBE_ENTITY_URL": o.sandbox.url, "WECUBE_ENTITY_TOKEN": o.sandbox.token}
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("wecube")), "entities", "query", *argv, "--json"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_hosts_the_rollout_placed_are_queried_checked_and_updated(orchestrations):
    o = orchestrations
    o.plugin(
        "/network/v1/vpc/create",
        [{"callbackParameter": "v", "name": "e2e-dm-vpc", "cidr": "10.98.0.0/16", "data_center": "e2e-dm-dc"}],
    )
    [subnet] = o.plugin(
        "/network/v1/subnet/create",
        [{"callbackParameter": "s", "name": SUBNET, "vpc": "e2e-dm-vpc", "zone": "z1", "prefix_length": 24}],
    )
    o.sa.add_dags([REPO / "tests" / "e2e" / "dags" / f"{DAG_ID}.py"])
    run = o.sa.trigger(ROLLOUT, {**ROLLOUT_CONF, "subnet": SUBNET, "app": "e2e-dm", "version": "1.0.0"})["dag_run_id"]
    o.wait_open(ROLLOUT, run)
    o.sa.client("alice").respond(ROLLOUT, run, "approve", "Approve", {"comment": "go"})
    try:
        o.wait_run(ROLLOUT, run, "success", timeout=300)
    except AssertionError as e:
        raise AssertionError(f"{e}\n{o.sa.task_log(ROLLOUT, run, 'deploy', chars=6000)}") from None

    # the hosts the rollout placed, with their paths from the subnet
    rows = [r for r in wecube(o, "cmdb:subnet~(subnet)cmdb:host") if r["subnet"] == subnet["guid"]]
    assert sorted(r["name"] for r in rows) == ["e2e-dm-1", "e2e-dm-2"]
    assert all(r["path"] == f"{subnet['guid']}::{r['id']}" and r["status"] == "running" for r in rows)
    assert {r["inventory_status"] for r in rows} == {None}

    # a DAG task bound to them: one call, one input per host, filled from the CMDB
    o.sa.wait_for_dag(DAG_ID)
    check = o.sa.trigger(DAG_ID, {"subnet": SUBNET})["dag_run_id"]
    o.wait_run(DAG_ID, check, "success", timeout=180)
    outputs = o.sa.client().xcom(DAG_ID, check, "check")
    assert sorted(out["callbackParameter"] for out in outputs) == sorted(r["id"] for r in rows)
    [call] = [
        c
        for c in o.sandbox.calls()
        if c["serviceName"] == "host/host/check" and c["inputs"][0]["callbackParameter"] in {r["id"] for r in rows}
    ]
    assert sorted(call["inputs"], key=lambda i: i["host"]) == [
        {"callbackParameter": r["id"], "host": r["name"], "ip": r["ip"], "subnet_cidr": subnet["cidr"]}
        for r in sorted(rows, key=lambda r: r["name"])
    ]
    written = o.sa.client().xcom(DAG_ID, check, "check", key="entity_writeback")
    assert sorted(w["id"] for w in written["updated"]) == sorted(r["id"] for r in rows)

    # the outputs are on the entities afterwards
    after = wecube(o, f"cmdb:subnet{{name eq '{SUBNET}'}}~(subnet)cmdb:host.inventory_status")
    assert {r["name"]: r["value"] for r in after} == {"e2e-dm-1": "ok", "e2e-dm-2": "ok"}
