"""An imported 20-node process vs the same DAG written by hand: wall time of a run (goal <= 1.1x).

The process (start, fork, two branches of eight automatic nodes calling ``host/host/check`` over
the hosts of a subnet, merge, end) is imported into a process store; the hand-written DAG has the
same 20 tasks as ``EmptyOperator`` and ``WeCubePluginOperator(entities=..., root=...)``. Both run
against a sandbox on loopback with ``dag.test()`` in a fresh interpreter each (an Airflow home of
their own, SQLite): every task is executed in turn in-process, so the difference measured is what
the process runtime adds per node (reading the stored process, the bindings of ``wecube_bind``,
the records) plus its one extra task, ``wecube_bind``. Rounds alternate; medians are reported.

    python bench/process_run.py [--rounds 5] [--hosts 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
GOAL = 1.1
BRANCH = 8
HOSTS = "cmdb:subnet~(subnet)cmdb:host"

RUN = """
import json, sys, time
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(sys.argv[1])
dag = bag.dags[sys.argv[2]]
t = time.perf_counter()
run = dag.test(run_conf={"root": sys.argv[3]})
print(json.dumps({"seconds": time.perf_counter() - t, "state": str(run.state), "tasks": len(dag.tasks)}))
"""

HAND = """
import pendulum
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG
from airflow_wecube.operators.plugin import WeCubePluginOperator

with DAG("bench_hand", start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), schedule=None,
         params={"root": ""}) as bench_hand:
    start, fork, merge, end = (EmptyOperator(task_id=t) for t in ("start", "fork", "merge", "end"))
    start >> fork
    for b in "ab":
        prev = fork
        for i in range(%(n)d):
            t = WeCubePluginOperator(task_id=f"check_{b}{i}", service="host/host/check",
                                     entities="%(hosts)s", root="{{ params.root }}")
            prev >> t
            prev = t
        prev >> merge
    merge >> end
"""


def v4_process() -> list[dict]:
    def node(i, t, **kw):
        a = {"id": i, "name": i, "nodeType": t, "serviceName": "", "routineExpression": "", "dynamicBind": 0,
             "paramInfos": [], **kw}  # fmt: skip
        return {"customAttrs": a, "selfAttrs": "{}"}

    nodes = [node("start", "start"), node("fork", "fork"), node("merge", "merge"), node("end", "end")]
    edges = [("start", "fork"), ("merge", "end")]
    for b in "ab":
        prev = "fork"
        for i in range(BRANCH):
            nid = f"check_{b}{i}"
            nodes.append(node(nid, "automatic", serviceName="host/host/check", routineExpression=HOSTS))
            edges.append((prev, nid))
            prev = nid
        edges.append((prev, "merge"))
    return [{"procDef": {"id": "bench", "key": "bench20", "name": "bench 20", "version": "v1",
                         "rootEntity": "cmdb:subnet"},
             "taskNodeInfos": {"nodes": nodes, "edges": [
                 {"customAttrs": {"id": f"e{k}", "name": "", "source": s, "target": t}, "selfAttrs": "{}"}
                 for k, (s, t) in enumerate(edges)]}}]  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--hosts", type=int, default=5)
    args = parser.parse_args()
    from airflow_wecube.datamodel.client import EntityApi
    from airflow_wecube.processes import ProcessStore, read_process_file, validate
    from airflow_wecube.registry import Registry, load_manifest
    from airflow_wecube.sandbox import manifest_paths

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        port, token = 18765 + os.getpid() % 1000, "bench-token"
        sandbox = subprocess.Popen(
            [sys.executable, "-m", "airflow_wecube.sandbox", "--host", "127.0.0.1", "--port", str(port),
             "--db", str(tmp / "sandbox.db"), "--token", token],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        try:
            url = f"http://127.0.0.1:{port}"
            for _ in range(300):
                try:
                    if requests.get(f"{url}/health", timeout=1).ok:
                        break
                except requests.RequestException:
                    time.sleep(0.1)
            api = EntityApi.at(url, token)
            api.create("cmdb", "subnet", [{"name": "bench", "cidr": "10.66.0.0/24"}])
            [subnet] = api.query("cmdb", "subnet", [{"attrName": "name", "op": "eq", "condition": "bench"}])
            api.create("cmdb", "host", [{"name": f"bench-{i}", "ip": f"10.66.0.{i + 10}", "subnet": subnet["id"]}
                                        for i in range(args.hosts)])  # fmt: skip
            registry = Registry(tmp / "wecube_plugins")
            for path in manifest_paths():
                registry.register(load_manifest(path), replace=True)
            (tmp / "bench.json").write_text(json.dumps(v4_process()))
            [process] = [validate(p, registry) for p in read_process_file(tmp / "bench.json")]
            ProcessStore(tmp / "wecube_processes").save([process])
            (tmp / "hand.py").write_text(HAND % {"n": BRANCH, "hosts": HOSTS})
            env = {**os.environ, "AIRFLOW_HOME": str(tmp / "airflow"), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                   "AIRFLOW__CORE__DAGS_FOLDER": str(tmp), "WECUBE_REGISTRY_PATH": str(tmp / "wecube_plugins"),
                   "WECUBE_PROCESSES_PATH": str(tmp / "wecube_processes"),
                   "AIRFLOW_CONN_WECUBE_DEFAULT": json.dumps(
                       {"conn_type": "wecube", "host": url, "password": token})}  # fmt: skip
            subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env=env, check=True,
                           capture_output=True)  # fmt: skip
            runs = {"imported": [], "hand": []}
            (tmp / "wecube_processes.py").write_text((REPO / "dags" / "wecube_processes.py").read_text())
            targets = {"imported": (tmp / "wecube_processes.py", "wecube_proc_bench20"),
                       "hand": (tmp / "hand.py", "bench_hand")}  # fmt: skip
            for r in range(args.rounds):
                for kind in ("imported", "hand") if r % 2 == 0 else ("hand", "imported"):
                    path, dag_id = targets[kind]
                    out = subprocess.run([sys.executable, "-c", RUN, str(path), dag_id, subnet["id"]], env=env,
                                         capture_output=True, text=True, timeout=900)  # fmt: skip
                    if out.returncode:
                        raise SystemExit(out.stderr[-3000:])
                    result = json.loads(out.stdout.strip().splitlines()[-1])
                    if "success" not in result["state"]:
                        raise SystemExit(f"{kind} run ended {result['state']}:\n{out.stderr[-3000:]}")
                    runs[kind].append(result)
        finally:
            sandbox.terminate()
            sandbox.wait(10)
    med = {k: statistics.median(r["seconds"] for r in v) for k, v in runs.items()}
    ratio = med["imported"] / med["hand"]
    for k, v in runs.items():
        times = sorted(r["seconds"] for r in v)
        spread = f"{times[0]:.2f}-{times[-1]:.2f} s, {len(v)} runs"
        print(f"{k:<9} {v[0]['tasks']:>3} tasks  median {med[k]:6.2f} s  ({spread})")
    print(f"imported / hand-written: {ratio:.2f}x: goal <= {GOAL}x {'met' if ratio <= GOAL else 'MISSED'}")
    return 0 if ratio <= GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
