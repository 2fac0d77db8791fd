"""Alert → DAG run latency on a running stack (`make demo`, or any with Alertmanager routed to Airflow).

Posts an alert to Alertmanager (a new fingerprint each round) and times, from Airflow's own
timestamps, each hop: Alertmanager → webhook recorded the Asset event (Alertmanager's group_wait
included), event → DAG run queued, event → DAG run started (the goal: ≤ 5 s). Needs an unpaused DAG
scheduled on ``alert_asset(ALERTNAME)``.

    python bench/alert_to_run.py --dag my_runbook --alertname MyAlert --rounds 5   # reads .demo/env

``measure(client, alertmanager_url, dag_id, alertname)`` is the building block (bench/closed_loop.py
may import it): it returns one round's timings in seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import urllib.request
import uuid
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from airflow_wecube.util.airflow_api import AirflowClient  # noqa: E402


def _ts(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _poll(fn, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while True:
        found = fn()
        if found:
            return found
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {what} within {timeout:.0f} s")
        time.sleep(0.1)


def measure(client: AirflowClient, alertmanager_url: str, dag_id: str, alertname: str) -> dict[str, float]:
    """One round: ``to_event`` (alert posted → event recorded), ``to_queued`` / ``to_started`` (event →
    run queued / started), ``total`` (alert posted → run started)."""
    marker = uuid.uuid4().hex[:10]
    known = {r["dag_run_id"] for r in client.request("GET", f"/api/v2/dags/{dag_id}/dagRuns")["dag_runs"]}
    alert = [{"labels": {"alertname": alertname, "bench": marker}, "annotations": {"summary": "bench"}}]
    request = urllib.request.Request(
        f"{alertmanager_url}/api/v2/alerts",
        data=json.dumps(alert).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    posted = time.time()
    urllib.request.urlopen(request, timeout=10).close()

    def event():
        assets = client.request(
            "GET", "/api/v2/assets", params={"uri_pattern": f"wecube-alert://{alertname}", "only_active": "false"}
        )["assets"]
        for asset in assets:
            for e in client.asset_events(asset_id=asset["id"], limit=100):
                if (e["extra"].get("labels") or {}).get("bench") == marker:
                    return e
        return None

    def run():
        runs = client.request("GET", f"/api/v2/dags/{dag_id}/dagRuns")["dag_runs"]
        new = [r for r in runs if r["dag_run_id"] not in known and r.get("start_date")]
        return new[0] if new else None

    e = _poll(event, 60, f"asset event for {alertname}")
    r = _poll(run, 60, f"run of {dag_id}")
    recorded = _ts(e["timestamp"])
    return {
        "to_event": recorded - posted,
        "to_queued": _ts(r["queued_at"]) - recorded,
        "to_started": _ts(r["start_date"]) - recorded,
        "total": _ts(r["start_date"]) - posted,
    }


def _env_lines(path: Path):
    """``NAME=value`` pairs of a .demo/env file (``export`` prefixes dropped); none when it is missing."""
    if path.is_file():
        for line in path.read_text().splitlines():
            if "=" in line and not line.startswith("#"):
                yield line.removeprefix("export ").split("=", 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dag", required=True, help="an unpaused DAG scheduled on alert_asset(ALERTNAME)")
    parser.add_argument("--alertname", required=True)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    env_file = Path(os.environ.get("DEMO_DIR") or Path(__file__).resolve().parents[1] / ".demo") / "env"
    settings = {**dict(_env_lines(env_file)), **os.environ}
    client = AirflowClient(settings["AIRFLOW_URL"], settings["AIRFLOW_USER"], settings["AIRFLOW_PASSWORD"])
    alertmanager_url = settings["ALERTMANAGER_URL"]
    with client:
        rounds = []
        for i in range(args.rounds):
            rounds.append(measure(client, alertmanager_url, args.dag, args.alertname))
            print(f"round {i + 1}: " + ", ".join(f"{k} {v:.2f}s" for k, v in rounds[-1].items()), flush=True)
            # the next alert joins the same Alertmanager group: wait for the run to end first
            time.sleep(0.5)
    for key in rounds[0]:
        values = [r[key] for r in rounds]
        print(f"{key:>10}: median {statistics.median(values):.2f}s  min {min(values):.2f}s  max {max(values):.2f}s")


if __name__ == "__main__":
    main()
