"""Approval latency: time from the approving REST call to the downstream task's start.

ApprovalSensor (wecube) vs Airflow's own ApprovalOperator, in the same ``airflow standalone``.
Runs are triggered up front and left waiting (a parked task holds no worker slot); then the
runs are approved one at a time, alternating the two kinds, each measured from just before the
``PATCH .../hitlDetails`` call to the ``start_date`` of the downstream task instance.

    .venv/bin/python bench/approval_latency.py [--runs 10]

Prints a Markdown table (median, min, max seconds). Takes about 2-3 minutes.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from airflow_wecube.util.durations import parse_time

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.fixtures.standalone import Standalone, _free_port, standalone_env  # noqa: E402

DAG_FILE = """
from datetime import datetime
from airflow.sdk import DAG, task
from airflow.providers.standard.operators.hitl import ApprovalOperator
from airflow_wecube.sensors.approval import ApprovalSensor

@task
def after():
    return "ran"

with DAG("bench_approval_sensor", start_date=datetime(2024, 1, 1), schedule=None, catchup=False):
    ApprovalSensor(task_id="gate", subject="bench", approvers=["alice"]) >> after()

with DAG("bench_approval_operator", start_date=datetime(2024, 1, 1), schedule=None, catchup=False):
    ApprovalOperator(task_id="gate", subject="bench", assigned_users=[{"id": "alice", "name": "alice"}]) >> after()
"""

KINDS = {"ApprovalSensor (wecube)": "bench_approval_sensor", "ApprovalOperator (Airflow)": "bench_approval_operator"}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args()

    home = Path(tempfile.mkdtemp(prefix="wecube-bench-"))
    (home / "dags").mkdir()
    port = _free_port()
    sa = Standalone(home, port, standalone_env(home, port, {}))
    print(f"starting airflow standalone in {home} on port {port} ...", flush=True)
    sa.start()
    try:
        src = home / "bench_dags.py"
        src.write_text(DAG_FILE)
        sa.add_dags([src])
        for dag_id in KINDS.values():
            sa.wait_for_dag(dag_id)
        runs = {kind: [sa.trigger(dag_id)["dag_run_id"] for _ in range(args.runs)] for kind, dag_id in KINDS.items()}
        admin, alice = sa.client("admin"), sa.client("alice")

        def parked(dag_id, run_id):
            ti = admin.get_task_instance(dag_id, run_id, "gate")
            if ti["state"] in ("failed", "upstream_failed", "skipped"):
                raise RuntimeError(f"{dag_id}/{run_id}: gate {ti['state']}\n{sa.task_log(dag_id, run_id, 'gate')}")
            return ti["state"] == "awaiting_input"

        for kind, dag_id in KINDS.items():
            for run_id in runs[kind]:
                sa.wait_for(
                    lambda dag_id=dag_id, run_id=run_id: parked(dag_id, run_id), 120, f"{dag_id}/{run_id} parked"
                )
                # answering before the scheduler saw the parked process exit races on 3.3.2 (docs/approvals.md)
                sa.wait_settled(dag_id, run_id, "gate")

        results: dict[str, list[float]] = {kind: [] for kind in KINDS}
        for i in range(args.runs):
            for kind, dag_id in KINDS.items():
                run_id = runs[kind][i]
                t0 = datetime.now(timezone.utc)
                alice.respond(dag_id, run_id, "gate", "Approve")

                def started(dag_id=dag_id, run_id=run_id):
                    ti = admin.get_task_instance(dag_id, run_id, "after")
                    return ti.get("start_date")

                start = sa.wait_for(started, 60, f"{dag_id}/{run_id} downstream start")
                latency = (parse_time(start) - t0).total_seconds()
                results[kind].append(latency)
                print(f"{kind:28s} run {i + 1:2d}: {latency:.3f} s", flush=True)

        print()
        print("| operator | runs | median (s) | min (s) | max (s) |")
        print("| --- | --- | --- | --- | --- |")
        for kind, values in results.items():
            print(
                f"| {kind} | {len(values)} | {statistics.median(values):.2f} | {min(values):.2f} | {max(values):.2f} |"
            )
        diff = statistics.median(results["ApprovalSensor (wecube)"]) - statistics.median(
            results["ApprovalOperator (Airflow)"]
        )
        print(f"\nmedian difference (sensor - operator): {diff:+.2f} s (target: <= +0.50 s)")
        return 0
    finally:
        sa.stop()
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
