"""Orchestrations under ``airflow standalone``: where the wall time goes, and a 200-host fan-out.

Starts its own sandbox, Prometheus (1 s scrape) and ``airflow standalone`` (the test suite's
settings: SQLite, LocalExecutor, ``parallelism=4``), then runs:

* ``wecube_network_build`` with the shipped design, then again (the idempotent rerun);
* ``wecube_app_rollout`` (2 hosts), approved through the REST API as soon as the request is open;
* ``host/host/create`` for 200 hosts, once as ONE batched plugin call (one task) and once as 200
  mapped tasks (``.partial().expand()``), each in its own fresh subnet.

For each run: wall time (run start → end) split into **plugin time** (union of the intervals spent
inside plugin calls, from the ``Calling ...`` log line of the hook to the next log line of that task),
**Prometheus** (union of the Prometheus tasks' run times: file_sd registration, rule reload, PromQL
gates, including the wait for scrapes), **approval** (request opened → answered) and **Airflow
overhead** (the rest: scheduling, task process start-up, XCom, parsing). Writes a Markdown table to
``bench/orchestrations.md`` (``--out``) and prints it.

    .venv/bin/python bench/orchestrations.py [--hosts 200] [--out bench/orchestrations.md]

Takes about 5 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.fixtures.prometheus import free_port, start_prometheus  # noqa: E402
from tests.fixtures.standalone import Standalone, standalone_env  # noqa: E402

NETWORK, ROLLOUT = "wecube_network_build", "wecube_app_rollout"
BATCHED, MAPPED = "wecube_bench_hosts_batched", "wecube_bench_hosts_mapped"
PROMETHEUS_TASKS = {"register_targets", "alert_rules", "gate_up", "wait_error_rate"}

FANOUT_DAGS = '''
"""Benchmark DAGs (written by bench/orchestrations.py): N hosts as one batched call vs N mapped tasks."""
from datetime import datetime
from airflow.sdk import DAG, task
from airflow_wecube.operators.plugin import WeCubePluginOperator


@task
def requests_for(params=None):
    p = params or {}
    return [{"callbackParameter": f"{p['prefix']}-{i}", "name": f"{p['prefix']}-{i}", "subnet": p["subnet"]}
            for i in range(int(p["hosts"]))]


with DAG("wecube_bench_hosts_batched", start_date=datetime(2024, 1, 1), schedule=None, catchup=False,
         params={"prefix": "b", "subnet": "", "hosts": 200}):
    WeCubePluginOperator(task_id="create_hosts", service="host/host/create", inputs=requests_for())

with DAG("wecube_bench_hosts_mapped", start_date=datetime(2024, 1, 1), schedule=None, catchup=False,
         params={"prefix": "m", "subnet": "", "hosts": 200}, max_active_tasks=64):
    WeCubePluginOperator.partial(task_id="create_hosts", service="host/host/create", max_active_tis_per_dag=64
                                 ).expand(inputs=requests_for())
'''


def ts(value: str | None) -> float | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() if value else None


def union(intervals: list[tuple[float, float]]) -> float:
    """Total length covered by the intervals."""
    total, end = 0.0, None
    for a, b in sorted(intervals):
        if end is None or a > end:
            total += b - a
            end = b
        elif b > end:
            total += b - end
            end = b
    return total


def log_events(path: Path) -> list[tuple[float, str]]:
    """(timestamp, message) of each JSON log line of a task log file."""
    out = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict) and rec.get("timestamp") and "event" in rec:
            out.append((ts(rec["timestamp"]), str(rec["event"])))
    return out


def plugin_intervals(sa: Standalone, dag_id: str, run_id: str) -> tuple[list[tuple[float, float]], int]:
    """Intervals spent in plugin calls: from the hook's ``Calling`` line to the next line of that task."""
    base = sa.home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}"
    intervals, calls = [], 0
    for path in base.glob("**/*.log"):
        events = log_events(path)
        for i, (t, msg) in enumerate(events):
            if msg.startswith("Calling ") and "requestId=" in msg:
                calls += 1
                end = events[i + 1][0] if i + 1 < len(events) else t
                intervals.append((t, end))
    return intervals, calls


class Bench:
    def __init__(self, hosts: int):
        self.hosts = hosts
        self.work = Path(tempfile.mkdtemp(prefix="wecube-bench-orch-"))
        self.procs: list[subprocess.Popen] = []
        self.rows: list[dict] = []

    # -- servers ------------------------------------------------------------------------------
    def start(self) -> None:
        self.token = f"bench-{secrets.token_hex(8)}"
        port = free_port()
        self.sandbox_url = f"http://127.0.0.1:{port}"
        log = open(self.work / "sandbox.log", "wb")
        self.procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "airflow_wecube.sandbox",
                    "--port",
                    str(port),
                    "--db",
                    str(self.work / "sandbox.db"),
                    "--token",
                    self.token,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={**os.environ, "WECUBE_SANDBOX_PORT_BASE": "30000"},
            )
        )
        for _ in range(200):
            try:
                if requests.get(f"{self.sandbox_url}/health", timeout=1).ok:
                    break
            except requests.RequestException:
                time.sleep(0.1)
        self.prometheus = start_prometheus(self.work / "prometheus")

        from airflow_wecube.registry import Registry, load_manifest
        from airflow_wecube.sandbox import manifest_paths

        registry_path = self.work / "registry"
        registry = Registry(registry_path)
        for path in manifest_paths():
            registry.register(load_manifest(path), replace=True)
        home = self.work / "airflow"
        (home / "dags").mkdir(parents=True)
        port = free_port()
        env = standalone_env(home, port, {"WECUBE_REGISTRY_PATH": str(registry_path)})
        self.sa = Standalone(home, port, env)
        t0 = time.monotonic()
        self.sa.start()
        print(f"standalone healthy in {time.monotonic() - t0:.1f}s", file=sys.stderr)
        client = self.sa.client()
        for conn_id, body in (
            ("wecube_default", {"conn_type": "wecube", "host": self.sandbox_url, "password": self.token}),
            (
                "prometheus_default",
                {
                    "conn_type": "prometheus",
                    "host": self.prometheus.url,
                    "extra": json.dumps(
                        {"file_sd_dir": str(self.prometheus.file_sd_dir), "rules_dir": str(self.prometheus.rules_dir)}
                    ),
                },
            ),
        ):
            client.request("POST", "/api/v2/connections", json={"connection_id": conn_id, **body}, expect=(201,))
        shutil.copytree(REPO / "dags" / "designs", home / "dags" / "designs")
        (self.work / "wecube_bench_fanout.py").write_text(FANOUT_DAGS)
        self.sa.add_dags(
            [REPO / "dags" / f"{NETWORK}.py", REPO / "dags" / f"{ROLLOUT}.py", self.work / "wecube_bench_fanout.py"]
        )
        for dag_id in (NETWORK, ROLLOUT, BATCHED, MAPPED):
            self.sa.wait_for_dag(dag_id)

    def stop(self) -> None:
        if hasattr(self, "sa"):
            self.sa.stop()
        if hasattr(self, "prometheus"):
            self.prometheus.stop()
        for p in self.procs:
            try:
                os.killpg(p.pid, signal.SIGTERM)
                p.wait(timeout=15)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
        shutil.rmtree(self.work, ignore_errors=True)

    def plugin(self, path: str, inputs: list[dict]) -> list[dict]:
        body = {"requestId": secrets.token_hex(8), "operator": "bench", "inputs": inputs}
        r = requests.post(
            self.sandbox_url + path, json=body, headers={"Authorization": f"Bearer {self.token}"}, timeout=60
        )
        out = r.json()
        assert out["resultCode"] == "0", out
        return out["results"]["outputs"]

    # -- measuring ------------------------------------------------------------------------------
    def measure(self, label: str, dag_id: str, run_id: str, note: str = "") -> dict:
        run = self.sa.wait_for_run_state(dag_id, run_id, "success", timeout=1800)
        start, end = ts(run["start_date"]), ts(run["end_date"])
        tis = list(self.sa.client().task_instances(dag_id, run_id).values())
        plugin, calls = plugin_intervals(self.sa, dag_id, run_id)
        prom = [
            (ts(t["start_date"]), ts(t["end_date"]))
            for t in tis
            if t["task_id"] in PROMETHEUS_TASKS and t.get("start_date") and t.get("end_date")
        ]
        approval = []
        if any(t["task_id"] == "approve" for t in tis):
            d = self.sa.client().get_hitl_detail(dag_id, run_id, "approve")
            approval = [(ts(d["created_at"]), ts(d["responded_at"]))]
        wall = end - start
        p, m, a = union(plugin), union(prom), union(approval)
        row = {
            "label": label,
            "wall": wall,
            "tasks": len(tis),
            "calls": calls,
            "plugin": p,
            "plugin_sum": sum(b - a_ for a_, b in plugin),
            "prometheus": m,
            "approval": a,
            "overhead": wall - union(plugin + prom + approval),
            "note": note,
        }
        self.rows.append(row)
        print(json.dumps(row), file=sys.stderr)
        return row

    def run(self) -> None:
        sa = self.sa
        r1 = sa.trigger(NETWORK)["dag_run_id"]
        self.measure(
            "network build, first run (1 VPC, 6 subnets in 2 zones, 1 route table, 3 security groups)", NETWORK, r1
        )
        r2 = sa.trigger(NETWORK)["dag_run_id"]
        self.measure("network build, rerun (changes nothing)", NETWORK, r2)
        summary = sa.client().xcom(NETWORK, r2, "topology")
        assert summary["created"] == 0, summary

        r3 = sa.trigger(ROLLOUT, {"app": "bench-app", "host_count": 2, "rate_window": "5s"})["dag_run_id"]
        self.wait_open(ROLLOUT, r3)
        sa.client().respond(ROLLOUT, r3, "approve", "Approve")
        self.measure(
            "app rollout, 2 hosts (approved by REST at once)",
            ROLLOUT,
            r3,
            note="approval = request open → answered (includes the ~2 s the script waits for the scheduler)",
        )

        vpc = self.plugin(
            "/network/v1/vpc/create",
            [{"callbackParameter": "v", "name": "bench-fanout", "cidr": "10.200.0.0/16", "data_center": "bench"}],
        )[0]
        for mode, dag_id in (("batched", BATCHED), ("mapped", MAPPED)):
            subnet = f"bench-{mode}"
            self.plugin(
                "/network/v1/subnet/create",
                [{"callbackParameter": "s", "name": subnet, "vpc": vpc["guid"], "zone": "z", "prefix_length": 23}],
            )
            run_id = sa.trigger(dag_id, {"prefix": f"bh-{mode}", "subnet": subnet, "hosts": self.hosts})["dag_run_id"]
            what = "ONE batched call (1 task)" if mode == "batched" else f"{self.hosts} mapped tasks"
            self.measure(f"{self.hosts} hosts (`host/host/create`): {what}", dag_id, run_id)

    def wait_open(self, dag_id: str, run_id: str) -> None:
        def check():
            ti = self.sa.client().get_task_instance(dag_id, run_id, "approve")
            if ti["state"] != "awaiting_input":
                return None
            return not self.sa.client().get_hitl_detail(dag_id, run_id, "approve")["response_received"]

        self.sa.wait_for(check, 300, "approval request")
        self.sa.wait_settled(dag_id, run_id, "approve")

    def markdown(self) -> str:
        lines = [
            "# Orchestrations under `airflow standalone` — `bench/orchestrations.py`",
            "",
            f"{datetime.now(timezone.utc):%Y-%m-%d}, {platform.machine()}, {os.cpu_count()} cores, Python "
            f"{platform.python_version()}; `airflow standalone` (SQLite, LocalExecutor, parallelism 4), sandbox and "
            "Prometheus (1 s scrape) on loopback, other work running alongside. One run each.",
            "",
            "Plugin = union of the time inside plugin calls (hook's `Calling` log line → the task's next log line); "
            "Prometheus = union of the Prometheus tasks' run times (register targets, reload rules, PromQL gates: "
            "mostly waiting for scrapes); approval = request open → answered; Airflow overhead = wall − the union of "
            "those (scheduling, task process start-up, XCom, template rendering).",
            "",
            "| run | wall | tasks | plugin calls | plugin time | Prometheus | approval | Airflow overhead |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for r in self.rows:
            lines.append(
                f"| {r['label']} | {r['wall']:.1f} s | {r['tasks']} | {r['calls']} | {r['plugin']:.2f} s | "
                f"{r['prometheus']:.1f} s | {r['approval']:.1f} s | "
                f"{r['overhead']:.1f} s ({100 * r['overhead'] / r['wall']:.0f} %) |"
            )
        fan = {r["label"]: r for r in self.rows if "hosts (`host/host/create`)" in r["label"]}
        if len(fan) == 2:
            batched, mapped = sorted(fan.values(), key=lambda r: r["tasks"])
            lines += [
                "",
                f"Fan-out of {self.hosts} hosts: the batched call takes **{batched['wall']:.1f} s** wall "
                f"({batched['plugin']:.2f} s in the plugin), the mapped tasks **{mapped['wall']:.1f} s** "
                f"({mapped['plugin']:.2f} s of plugin time in union, {mapped['plugin_sum']:.1f} s summed over "
                f"{mapped['calls']} calls): **{mapped['wall'] / batched['wall']:.0f}× slower**, nearly all of it "
                "Airflow overhead (one task process, one XCom and one scheduling decision per host, "
                "at most 4 at a time).",
            ]
        notes = [r for r in self.rows if r["note"]]
        for r in notes:
            lines.append(f"\n{r['label']}: {r['note']}.")
        lines += [
            "",
            READING,
            "",
            "Reproduce: `.venv/bin/python bench/orchestrations.py` (about 4 minutes on 2 cores).",
        ]
        return "\n".join(lines) + "\n"


READING = """\
Reading: the plugins themselves are fast (a sandbox on loopback: well under a second per
orchestration); the wall time goes to Airflow's cost per task (scheduling, a task process per
task instance, execution-API and XCom round trips: roughly one second per task on this machine)
and, in the rollout, to waiting for Prometheus to scrape the new targets and for the approval.
So batch the entities of one step into one plugin call where the plugin takes many (the rollout's
deploy, the subnets of a zone), and map only where each entity deserves its own retry and its own
cell in the grid (the rollout's hosts, a handful at a time)."""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hosts", type=int, default=200)
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "orchestrations.md")
    args = ap.parse_args()
    bench = Bench(args.hosts)
    try:
        bench.start()
        bench.run()
    finally:
        bench.stop()
    text = bench.markdown()
    args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
