"""dags/wecube_network_build.py under dag.test() against the real sandbox: build, rerun, bad design."""

from __future__ import annotations

import copy
import ipaddress
import os

import pytest
import yaml

from tests.fixtures.dag_runs import run_states as _states
from tests.fixtures.dag_runs import run_xcom as _xcom

pytestmark = pytest.mark.integration

DAG_ID = "wecube_network_build"


def _dag():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(os.path.join(os.environ["AIRFLOW__CORE__DAGS_FOLDER"], "wecube_network_build.py"))
    assert DAG_ID in bag.dags, bag.import_errors
    return bag.dags[DAG_ID]


def _map_labels(dr, task_id):
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        tis = session.query(TaskInstance).filter_by(run_id=dr.run_id, task_id=task_id)
        return sorted(t.rendered_map_index for t in tis)


def _design(prefix: str) -> dict:
    """The shipped design with names of our own (the session sandbox is shared)."""
    from pathlib import Path

    design = yaml.safe_load((Path(__file__).resolve().parents[3] / "dags" / "designs" / "network.yml").read_text())
    design = copy.deepcopy(design)
    design["data_center"] = f"{prefix}-dc"
    design["vpc"]["name"] = f"{prefix}-vpc"
    for kind in ("route_tables", "security_groups"):
        for item in design[kind]:
            item["name"] = f"{prefix}-{item['name']}"
    return design


def test_build_then_rerun_changes_nothing(airflow_db, wecube_conn, plugin_registry, sandbox):
    design = _design("it-net")
    dag = _dag()
    first = dag.test(run_conf={"design": design})
    assert first.state == "success", _states(first)
    topo = _xcom(first, "topology")
    n_subnets = len(design["zones"]) * len(design["subnets"])
    assert len(topo["subnets"]) == n_subnets
    assert topo["created"] == 1 + n_subnets + len(design["route_tables"]) + len(design["security_groups"])
    assert topo["updated"] == 0
    vpc = ipaddress.ip_network(design["vpc"]["cidr"])
    blocks = [ipaddress.ip_network(s["cidr"]) for s in topo["subnets"]]
    assert all(b.subnet_of(vpc) for b in blocks)
    assert not any(a.overlaps(b) for i, a in enumerate(blocks) for b in blocks[i + 1 :])
    assert {s["name"] for s in topo["subnets"]} == {
        f"it-net-vpc-{t['tier']}-{z}" for t in design["subnets"] for z in design["zones"]
    }
    assert {g["name"] for g in topo["security_groups"]} == {g["name"] for g in design["security_groups"]}

    # one mapped instance per zone, labelled with its zone in the grid
    assert _map_labels(first, "create_subnets") == sorted(design["zones"])

    second = dag.test(run_conf={"design": design})
    assert second.state == "success", _states(second)
    again = _xcom(second, "topology")
    assert again["created"] == 0 and again["updated"] == 0
    assert again["vpc"]["guid"] == topo["vpc"]["guid"]
    assert [(s["guid"], s["cidr"]) for s in again["subnets"]] == [(s["guid"], s["cidr"]) for s in topo["subnets"]]


def test_bad_design_fails_before_any_call(airflow_db, wecube_conn, plugin_registry, sandbox):
    design = _design("it-bad")
    design["subnets"][1]["prefix_length"] = 8  # wider than the /16 VPC
    dr = _dag().test(run_conf={"design": design})
    assert dr.state == "failed"
    states = _states(dr)
    assert states[("plan", -1)] == "failed"
    assert states[("create_vpc", -1)] == "upstream_failed"
    r = sandbox.post("/cmdb/v1/ci/query", [{"callbackParameter": "q", "type": "vpc", "name": "it-bad-vpc"}])
    assert r.json()["results"]["outputs"][0]["count"] == 0  # nothing was created


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda d: d.pop("subnets"), "subnets"),
        (lambda d: d.__setitem__("vpcs", []), "vpcs"),
        (lambda d: d["vpc"].__setitem__("name", ""), "name"),
        (lambda d: d.__setitem__("zones", []), "zones"),
    ],
)
def test_bad_design_shape_is_refused_when_the_run_is_made(airflow_db, change, field):
    from airflow.sdk.definitions.param import ParamValidationError

    design = _design("it-shape")
    change(design)
    with pytest.raises(ParamValidationError, match=field):
        _dag().test(run_conf={"design": design})


def test_unknown_conf_key_fails_plan_before_any_call(airflow_db, wecube_conn, plugin_registry, sandbox):
    dr = _dag().test(run_conf={"design": _design("it-typo"), "dry_run": True})
    assert dr.state == "failed"
    states = _states(dr)
    assert states[("plan", -1)] == "failed" and states[("create_vpc", -1)] == "upstream_failed"
    r = sandbox.post("/cmdb/v1/ci/query", [{"callbackParameter": "q", "type": "vpc", "name": "it-typo-vpc"}])
    assert r.json()["results"]["outputs"][0]["count"] == 0  # nothing was created
