"""The process pages and their JSON twins over a real Airflow run (dag.test() on the session's DB),
Airflow's permission checks stubbed (tests/e2e/test_process_view.py runs the real ones)."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote

import defusedxml.ElementTree as ET
import pytest

from airflow_wecube.processes import ProcessStore, read_process_file, validate
from tests.fixtures.paths import PROCESS_DATA

EVIL = "<script>document.title='pwned'</script>"


@pytest.fixture
def store(tmp_path, monkeypatch, plugin_registry):
    s = ProcessStore(tmp_path / "wecube_processes")
    processes = [validate(p, plugin_registry) for p in read_process_file(PROCESS_DATA / "v4_view_demo.json")]
    processes += [validate(p, None) for p in read_process_file(PROCESS_DATA / "view_review.bpmn")]
    s.save(processes)
    monkeypatch.setenv("WECUBE_PROCESSES_PATH", str(s.root))
    return s


@pytest.fixture(scope="module")
def demo_run(airflow_db):
    """One finished run of wecube_proc_view_demo (dags/process_view_run.py beside this file)."""
    from airflow.dag_processing.dagbag import DagBag

    src = Path(__file__).with_name("dags") / "process_view_run.py"
    link = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]) / "test_process_view_run.py"
    if not link.exists():
        link.symlink_to(src)
    try:
        bag = DagBag(str(link))
        dag = bag.dags["wecube_proc_view_demo"]
        dr = dag.test()
    finally:
        link.unlink(missing_ok=True)
    return dr.run_id


def test_list_shows_each_process_with_versions_dag_and_runs(ui_client, store, demo_run):
    body = ui_client.get("/api/processes").json()
    rows = {r["key"]: r for r in body["items"]}
    assert set(rows) == {"view_demo", "view_review"} and body["errors"] == []
    demo = rows["view_demo"]
    assert demo["versions"] == ["v1"] and demo["dag_id"] == "wecube_proc_view_demo"
    assert demo["dag_url"].endswith("/dags/wecube_proc_view_demo")
    assert demo["last_runs"][0]["run_id"] == demo_run and demo["last_runs"][0]["state"] == "failed"
    page = ui_client.get("/processes").text
    assert EVIL not in page and "&lt;script&gt;document.title" in page
    assert 'href="/processes/view_demo"' in page or "/processes/view_demo" in page


def test_process_detail_maps_nodes_to_elements_and_tasks(ui_client, store):
    body = ui_client.get("/api/processes/view_demo").json()
    nodes = {n["id"]: n for n in body["nodes"]}
    assert nodes["n_call"] == {**nodes["n_call"], "element_id": "n_call", "task_id": "n_call", "type": "automatic"}
    assert nodes["n_call"]["service_version"] == "1.0.0"
    xml = ui_client.get(body["diagram_url"])
    assert xml.status_code == 200 and xml.headers["content-type"].startswith("application/xml")
    root = ET.fromstring(xml.content)
    drawn = {s.get("bpmnElement") for s in root.iter("{http://www.omg.org/spec/BPMN/20100524/DI}BPMNShape")}
    assert drawn == set(nodes)
    bpmn = ui_client.get("/api/processes/view_review/diagram").text
    assert "Camunda Modeler" in bpmn  # the drawing a person made, as drawn
    assert ui_client.get("/api/processes/nope").status_code == 404
    assert ui_client.get("/api/processes/view_demo", params={"version": "v9"}).status_code == 404


def test_run_states_and_what_a_node_recorded(ui_client, store, demo_run):
    run = ui_client.get(f"/api/processes/view_demo/runs/{demo_run}").json()
    assert run["run"]["state"] == "failed" and run["run"]["finished"] is True
    states = {k: v["state"] for k, v in run["nodes"].items()}
    assert states == {
        "n_start": "success",
        "n_fork": "success",
        "n_call": "success",
        "n_fail": "failed",
        "n_merge": "upstream_failed",
        "n_ask": "upstream_failed",
        "n_end": "upstream_failed",
    }
    assert run["nodes"]["n_fail"]["log_url"].endswith(f"/runs/{quote(demo_run, safe='')}/tasks/n_fail")

    call = ui_client.get(f"/api/processes/view_demo/runs/{demo_run}/nodes/n_call").json()
    assert call["state"] == "success" and call["bound"] == [
        {"id": "host_1", "displayName": "web-1", "path": "cmdb:app~(app)cmdb:host"}
    ]
    [c] = call["record"]["calls"]
    assert c["inputs"] == {"name": "web-1", "password": "***"}  # masked again by the view
    assert c["output"]["host_id"] == "h-17"
    failed = ui_client.get(f"/api/processes/view_demo/runs/{demo_run}/nodes/n_fail").json()
    assert failed["state"] == "failed" and failed["record"] is None and failed["bound"][0]["id"] == "host_1"
    ask = ui_client.get(f"/api/processes/view_demo/runs/{demo_run}/nodes/n_ask").json()
    assert ask["record"] is None and ask["bound"] is None and ask["inbox"] == []

    assert ui_client.get("/api/processes/view_demo/runs/nope").status_code == 404
    assert ui_client.get(f"/api/processes/view_demo/runs/{demo_run}/nodes/zz").status_code == 404


def test_process_page_embeds_data_as_json_text(ui_client, store, demo_run):
    page = ui_client.get("/processes/view_demo", params={"run_id": demo_run}).text
    assert EVIL not in page and "<img src=x" not in page  # names only as escaped text / JSON
    assert 'id="wecube-view"' in page and "bpmn-navigated-viewer.production.min.js" in page
    assert "waiting for a person" in page  # the legend
    assert "bpmn.io" in page


def test_static_serves_only_the_vendored_files(ui_client):
    js = ui_client.get("/static/bpmn-js/bpmn-navigated-viewer.production.min.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    assert "bpmn.io" in ui_client.get("/static/bpmn-js/LICENSE").text
    for bad in ("../processes.py", "bpmn-js/README.md", "bpmn-js/../../app.py", "nope.js"):
        assert ui_client.get(f"/static/{bad}").status_code == 404, bad


def test_a_mapped_node_shows_the_state_that_most_needs_a_look():
    from airflow_wecube.ui.process_runs import node_state

    def tis(*states):
        return [{"state": s} for s in states]

    assert node_state(tis("success", "failed", "running")) == "failed"
    assert node_state(tis("success", "awaiting_input", "running")) == "awaiting_input"
    assert node_state(tis("success", "running", "queued")) == "running"
    assert node_state(tis("success", "skipped")) == "success"
    assert node_state(tis(None, None)) is None
