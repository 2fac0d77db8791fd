"""200 mapped plugin tasks on `make cluster` (CeleryExecutor, 2 workers, PostgreSQL, Redis) vs `airflow
standalone` (LocalExecutor, SQLite) on the same machine, and the time to recover from a killed worker.

1. Starts a cluster with scripts/cluster.sh in ``.cluster-bench/`` (ports 200 above `make cluster`'s),
   the example DAGs and the cluster tests' DAGs (tests/e2e/cluster/dags).
2. Runs ``wecube_cluster_calls`` with ``n`` mapped ``faults/fault/delay`` calls of 0 s: each task is one
   plugin call, so what is measured is Airflow's cost per task. Reads every task instance back
   (``queued_when``, ``start_date``, ``end_date``) and reports the run's wall time, the wall time per
   task, the median task run time (process start to end) and the median wait from queued to running.
   "Slot overhead per task" is ``(wall x parallelism - sum of task run times) / n``: the slot time per
   task that is spent on anything but running it (scheduling, the broker, task start-up).
3. Kills the worker running a 10 s call (SIGKILL, every process of it) and measures the time from the
   kill to the retry's start and to the run's success (the scheduler's heartbeat timeout is 40 s).
4. Stops the cluster's Airflow processes (its sandbox stays), starts ``airflow standalone`` on the same
   DAGs, the same sandbox and registry, ``parallelism`` 4 like the cluster, and runs step 2 again.

    .venv/bin/python bench/cluster.py [--tasks 200]      (make bench-cluster)

Takes 10-15 minutes on 2 cores. Results: bench/README.md, section "Cluster".
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from airflow_wecube.protocol.request_ids import stable_request_id  # noqa: E402
from airflow_wecube.util.airflow_api import AirflowAPIError  # noqa: E402
from tests.e2e.cluster.conftest import WORKERS, start_cluster, stop_cluster, wait_for  # noqa: E402
from tests.fixtures.standalone import Standalone, standalone_env  # noqa: E402

CALLS = "wecube_cluster_calls"
PARALLELISM = 4
AIRFLOW_PARTS = ("apiserver", "scheduler", "dag-processor", "triggerer", "worker1", "worker2")


def ts(value: str | None) -> float | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() if value else None


def measure(client, run_id: str, n: int) -> dict:
    """The run's wall time and its task instances' timings."""
    run = client.get_run(CALLS, run_id)
    tis = [t for name, t in client.task_instances(CALLS, run_id).items() if name.startswith("call[")]
    assert len(tis) == n and all(t["state"] == "success" for t in tis), {t["state"] for t in tis}
    first_queued = min(ts(t["queued_when"]) for t in tis)
    last_end = max(ts(t["end_date"]) for t in tis)
    durations = [ts(t["end_date"]) - ts(t["start_date"]) for t in tis]
    waits = [ts(t["start_date"]) - ts(t["queued_when"]) for t in tis]
    wall = ts(run["end_date"]) - ts(run["start_date"])
    return {
        "tasks": n,
        "run wall (s)": round(wall, 1),
        "first queued to last done (s)": round(last_end - first_queued, 1),
        "wall per task (s)": round(wall / n, 3),
        "median task run (s)": round(statistics.median(durations), 2),
        "median queued to running (s)": round(statistics.median(waits), 2),
        "slot overhead per task (s)": round((wall * PARALLELISM - sum(durations)) / n, 2),
        "hosts": sorted({t["hostname"] for t in tis}),
    }


def run_calls(client, n: int, seconds: str = "0", timeout: float = 1800) -> str:
    run_id = client.trigger(CALLS, {"n": n, "seconds": seconds})["dag_run_id"]

    def done():
        state = client.get_run(CALLS, run_id)["state"]
        if state == "failed":
            raise RuntimeError(f"{run_id} failed")
        return state == "success" or None

    wait_for(done, timeout, f"{CALLS} {run_id}", every=2)
    return run_id


def kill_recovery(cluster) -> dict:
    with cluster.client() as client:
        run_id = client.trigger(CALLS, {"n": 1, "seconds": "10"})["dag_run_id"]

        def running():
            try:
                ti = client.get_task_instance(CALLS, run_id, "call", 0)
            except AirflowAPIError as e:
                if e.status == 404:  # not mapped yet
                    return None
                raise
            return ti if ti["state"] == "running" and ti["hostname"] in WORKERS else None

        first = wait_for(running, 300, "the call running")
        rid = stable_request_id(CALLS, run_id, "call", 0)
        wait_for(lambda: cluster.sandbox("GET", "/sandbox/answers", params={"request_id": rid}) or None, 60, "call")
        victim = first["hostname"].removeprefix("cluster-")
        killed = time.time()
        cluster.kill(victim, signal.SIGKILL)

        def retried():
            ti = client.get_task_instance(CALLS, run_id, "call", 0)
            return ti if ti["try_number"] >= 2 and ti["state"] in ("running", "success") else None

        retry = wait_for(retried, 400, "the retry", every=0.5)
        wait_for(lambda: client.get_run(CALLS, run_id)["state"] == "success" or None, 300, "the run", every=0.5)
        ti = client.get_task_instance(CALLS, run_id, "call", 0)
        calls = cluster.sandbox("GET", "/sandbox/calls", params={"request_id": rid})
    cluster.start(victim)
    return {
        "kill to retry running (s)": round(ts(retry["start_date"]) - killed, 1),
        "kill to run success (s)": round(ts(ti["end_date"]) - killed, 1),
        "retried on": ti["hostname"],
        "sandbox calls (replayed)": [c["replayed"] for c in calls],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--parts", default="cluster,kill,standalone", help="what to measure (comma-separated)")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    results: dict = {"load before": os.getloadavg()[0]}

    cluster = start_cluster(REPO / ".cluster-bench", offset=200)
    try:
        with cluster.client() as client:
            run_calls(client, 4)  # warm-up: both workers have imported everything once
            if "cluster" in parts:
                run_id = run_calls(client, args.tasks)
                results["cluster"] = measure(client, run_id, args.tasks)
                print(json.dumps(results["cluster"]), flush=True)
        if "kill" in parts:
            results["kill"] = kill_recovery(cluster)
            print(json.dumps(results["kill"]), flush=True)
        if "standalone" not in parts:
            return 0
        for part in AIRFLOW_PARTS:
            cluster.kill(part, signal.SIGTERM)

        home = Path(tempfile.mkdtemp(prefix="wecube-bench-standalone-"))
        shutil.copytree(cluster.dir / "dags", home / "dags")
        port = int(cluster.env["CLUSTER_AIRFLOW_PORT"]) + 1
        conn = {"conn_type": "wecube", "host": cluster.sandbox_url, "password": cluster.values["SANDBOX_TOKEN"]}
        env = standalone_env(
            home,
            port,
            {
                "AIRFLOW_CONN_WECUBE_DEFAULT": json.dumps(conn),
                "WECUBE_REGISTRY_PATH": str(cluster.dir / "shared" / "wecube_plugins"),
                "AIRFLOW__CORE__PARALLELISM": str(PARALLELISM),
            },
        )
        for name in ("AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC", "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL"):
            env.pop(name, None)  # the cluster's defaults, not the test suite's faster ones
        sa = Standalone(home, port, env)
        sa.start(timeout=300)
        try:
            client = sa.client()
            wait_for(lambda: client.get_dag(CALLS) or None, 180, "the DAG parsed", every=2)
            client.unpause(CALLS)
            run_calls(client, 4)
            run_id = run_calls(client, args.tasks)
            results["standalone"] = measure(client, run_id, args.tasks)
            print(json.dumps(results["standalone"]), flush=True)
        finally:
            sa.stop()
            shutil.rmtree(home, ignore_errors=True)
    finally:
        stop_cluster(cluster)
    results["load after"] = os.getloadavg()[0]
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
