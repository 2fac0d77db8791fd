"""The process page of a 100-node process with a 1,000-entity run: server time and drawing time.

A WeCube v4 process of 100 nodes (start, a fork into 4 branches of 24 task nodes, merge, end;
no canvas positions, so the automatic layout runs) and one real run of its DAG (``dag.test()`` on
a SQLite metadata DB): ``wecube_bind`` binds 10 entities to each task node and the node ``t0_0``
records 1,000 entities and 1,000 calls (the contract's XComs, docs/processes.md "The process view").

Server: the page with ``?run_id=``, its JSON twins (process, diagram, run states, the 1,000-call
node) served in process by the WeCube app (Airflow's permission checks stubbed), median and worst
of 20 requests. Browser: the same app on loopback (uvicorn), headless Chromium opening the page;
"drawing ready" is the page's own mark (``wecubeProcessView.readyAt``: the viewer loaded, the XML
fetched and drawn, the run's states painted), from navigation start; median and worst of 10 loads.

Run by hand: ``.venv/bin/python bench/process_view.py``; results go to bench/README.md.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

N = int(os.environ.get("BENCH_N", "20"))
LOADS = int(os.environ.get("BENCH_LOADS", "10"))
SERVER_MS, BROWSER_MS = 300, 1000
BRANCHES, PER_BRANCH = 4, 24  # + start, fork, merge, end = 100 nodes

DAG_FILE = """
import json, pendulum
from pathlib import Path
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG

SPEC = json.loads(Path({spec!r}).read_text())


def bind():
    return SPEC["bind"]


def record(ti, node):
    if node == "t0_0":
        ti.xcom_push(key="wecube_node", value=SPEC["wide"])


with DAG("wecube_proc_bench_view", start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), schedule=None) as dag:
    tasks = {{"wecube_bind": PythonOperator(task_id="wecube_bind", python_callable=bind)}}
    for node in SPEC["nodes"]:
        if node.startswith("t"):
            tasks[node] = PythonOperator(task_id=node, python_callable=record, op_kwargs={{"node": node}})
        else:
            tasks[node] = EmptyOperator(task_id=node)
    tasks["wecube_bind"] >> tasks["start"]
    for a, b in SPEC["edges"]:
        tasks[a] >> tasks[b]
"""


def process_export() -> tuple[list, list[str], list[tuple[str, str]]]:
    def node(i, t, **kw):
        return {"customAttrs": {"id": i, "name": f"{t} {i}", "nodeType": t, **kw}, "selfAttrs": "{}"}

    nodes = [node("start", "start"), node("fork", "fork")]
    edges = [("start", "fork")]
    for b in range(BRANCHES):
        prev = "fork"
        for k in range(PER_BRANCH):
            nid = f"t{b}_{k}"
            nodes.append(node(nid, "automatic", serviceName="host/host/create", routineExpression="cmdb:app"))
            edges.append((prev, nid))
            prev = nid
        edges.append((prev, "merge"))
    nodes += [node("merge", "merge"), node("end", "end")]
    edges.append(("merge", "end"))
    export = [
        {
            "procDef": {
                "id": "bench_view",
                "key": "bench_view",
                "name": "bench view",
                "version": "v1",
                "rootEntity": "cmdb:app",
            },
            "taskNodeInfos": {
                "nodes": nodes,
                "edges": [
                    {"customAttrs": {"id": f"e{i}", "name": "", "source": a, "target": b}, "selfAttrs": "{}"}
                    for i, (a, b) in enumerate(edges)
                ],
            },
        }
    ]
    return export, [n["customAttrs"]["id"] for n in nodes], edges


def setup(work: Path) -> str:
    os.environ["AIRFLOW_HOME"] = str(work / "home")
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{work / 'home' / 'airflow.db'}"
    os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(work / "dags")
    os.environ["WECUBE_PROCESSES_PATH"] = str(work / "processes")
    (work / "dags").mkdir(parents=True)
    subprocess.run(
        [str(Path(sys.executable).parent / "airflow"), "db", "migrate"],
        check=True,
        stdout=subprocess.DEVNULL,
        env=os.environ.copy(),
    )
    from airflow_wecube.processes import ProcessStore, read_bytes, validate

    export, ids, edges = process_export()
    [process] = read_bytes(json.dumps(export).encode(), "bench.json")
    ProcessStore(work / "processes").save([validate(process, None)])
    entities = [{"id": f"host_{i:04d}", "displayName": f"host-{i:04d}", "path": "cmdb:app"} for i in range(1000)]
    spec = {
        "nodes": ids,
        "edges": edges,
        "bind": {
            "root": {"id": "app_1", "displayName": "app"},
            "nodes": {i: entities[k * 10 % 1000 : k * 10 % 1000 + 10] for k, i in enumerate(ids)},
        },
        "wide": {
            "node_id": "t0_0",
            "service": "host/host/create",
            "entities": entities,
            "calls": [
                {
                    "callbackParameter": e["id"],
                    "inputs": {"name": e["displayName"], "password": "***"},
                    "output": {"host_id": e["id"]},
                    "errorCode": "0",
                    "errorMessage": "",
                }
                for e in entities
            ],
        },
    }
    (work / "spec.json").write_text(json.dumps(spec))
    (work / "dags" / "bench_view.py").write_text(DAG_FILE.format(spec=str(work / "spec.json")))
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(str(work / "dags" / "bench_view.py"))
    assert "wecube_proc_bench_view" in bag.dags, bag.import_errors
    t = time.perf_counter()
    dr = bag.dags["wecube_proc_bench_view"].test()
    print(f"(the run of 101 tasks took {time.perf_counter() - t:.0f} s: {dr.state})")
    return dr.run_id


def app():
    from airflow.api_fastapi.core_api.security import get_user

    from airflow_wecube.ui import auth
    from airflow_wecube.ui.app import create_app

    a = create_app()
    for dep in (*auth.READ_PLUGINS, *auth.READ_APPROVALS, *auth.READ_RUNS):
        a.dependency_overrides[dep.dependency] = lambda: None
    a.dependency_overrides[get_user] = lambda: object()
    a.dependency_overrides[auth.readable_dag_ids] = lambda: None
    return a


def server_times(run_id: str) -> None:
    from urllib.parse import quote

    from fastapi.testclient import TestClient

    c = TestClient(app())
    run = quote(run_id, safe="")
    paths = [
        ("process page with the run", f"/processes/bench_view?run_id={run}"),
        ("processes list", "/processes"),
        ("process JSON", "/api/processes/bench_view"),
        ("diagram (generated XML)", "/api/processes/bench_view/diagram"),
        ("run states (the poll)", f"/api/processes/bench_view/runs/{run}"),
        ("node with 1,000 calls", f"/api/processes/bench_view/runs/{run}/nodes/t0_0"),
    ]
    print("| request | median | worst | target |\n| --- | --- | --- | --- |")
    for name, path in paths:
        r = c.get(path)
        assert r.status_code == 200, (path, r.text[:300])
        times = []
        for _ in range(N):
            t = time.perf_counter()
            assert c.get(path).status_code == 200
            times.append((time.perf_counter() - t) * 1000)
        print(f"| {name} | {statistics.median(times):.0f} ms | {max(times):.0f} ms | ≤ {SERVER_MS} ms |")
    wide = c.get(f"/api/processes/bench_view/runs/{run}/nodes/t0_0").json()
    assert len(wide["record"]["calls"]) == 1000 and len(wide["bound"]) == 10


def browser_times(run_id: str) -> None:
    from urllib.parse import quote

    import uvicorn
    from fastapi import FastAPI
    from selenium.webdriver.support.ui import WebDriverWait

    from tests.fixtures.browser import _new_driver
    from tests.fixtures.processes import free_port

    root = FastAPI()
    root.mount("/wecube", app())
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(root, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    driver = _new_driver()
    try:
        url = f"http://127.0.0.1:{port}/wecube/processes/bench_view?run_id={quote(run_id, safe='')}"
        times = []
        for _ in range(LOADS + 1):
            driver.get(url)
            WebDriverWait(driver, 30).until(lambda d: d.execute_script("return window.wecubeProcessView.ready"))
            ready = driver.execute_script("return window.wecubeProcessView.readyAt")
            drawn = driver.execute_script("return document.querySelectorAll('#canvas g.djs-shape').length")
            assert drawn >= 100, drawn
            times.append(ready)
        times = times[1:]  # the first load fills the browser's cache, as a user's first visit does
        print(
            f"| drawing ready in Chromium (100 nodes, states painted) | {statistics.median(times):.0f} ms "
            f"| {max(times):.0f} ms | ≤ {BROWSER_MS} ms |"
        )
    finally:
        driver.quit()
        server.should_exit = True
        thread.join(10)


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="wecube-bench-view-"))
    try:
        run_id = setup(work)
        server_times(run_id)
        browser_times(run_id)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
