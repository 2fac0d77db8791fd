"""Closed loop: time from a crash to ``up == 1`` again, and where it goes.

Starts a sandbox, Prometheus (scrape and rule evaluation every ``--scrape``), Alertmanager
(``--group-wait``) delivering to an ``airflow standalone``'s ``POST /wecube/alerts``, deploys the
account service on ``--rounds`` hosts with the rollout's ``AccountServiceDown`` rule (``for`` =
``--for``) and ``wecube_remediate_instance``. Each round kills one instance (SIGKILL; a new host each
round, so the cooldown does not apply) and splits the time until Prometheus sees it up again:

* detection: crash → the alert *firing* in Prometheus (scrape + the rule's ``for`` + evaluation)
* grouping: firing → the Asset event recorded by the webhook (Prometheus → Alertmanager, group_wait,
  the webhook call)
* alert → run: the Asset event → the runbook's DAG run started (the scheduler)
* remediation: run started → ``up == 1`` in Prometheus (the tasks, the redeploy, the next scrape)

Goals (issue #9): alert → run ≤ 5 s; crash → healthy ≤ ``for`` + 2 scrape intervals + group_wait + 30 s.

    .venv/bin/python bench/closed_loop.py [--rounds 3] [--for 1m] [--scrape 5s] [--group-wait 2s]

Defaults are the demo's settings (scripts/demo.sh). Prints a Markdown table (per round and the median).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.fixtures.alertmanager import start_alertmanager  # noqa: E402
from tests.fixtures.processes import stop_process_group  # noqa: E402
from tests.fixtures.prometheus import start_prometheus  # noqa: E402
from tests.fixtures.standalone import Standalone, _free_port, standalone_env  # noqa: E402

RUNBOOK = "wecube_remediate_instance"
APP = "account-service"
JOB = f"wecube_app_{APP}"
ALERT = "AccountServiceDown"


def seconds(duration: str) -> float:
    return float(duration[:-1]) * {"s": 1, "m": 60, "h": 3600}[duration[-1]]


def stamp(text: str) -> float:
    """Epoch seconds of an ISO 8601 time (Prometheus's nanoseconds cut to microseconds)."""
    text = text.replace("Z", "+00:00")
    if "." in text:
        head, rest = text.split(".", 1)
        frac = "".join(c for c in rest if c.isdigit())
        tz = rest[len(frac) :]
        text = f"{head}.{frac[:6]}{tz}"
    return datetime.fromisoformat(text).timestamp()


class Sandbox:
    def __init__(self, folder: Path):
        self.port, self.token = _free_port(), f"bench-{secrets.token_hex(8)}"
        self.url = f"http://127.0.0.1:{self.port}"
        env = {"WECUBE_SANDBOX_PORT_BASE": "26000", **os.environ}
        log = open(folder / "sandbox.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "airflow_wecube.sandbox", "--host", "127.0.0.1", "--port", str(self.port)]
            + ["--db", str(folder / "sandbox.db"), "--token", self.token],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=1):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("sandbox not healthy") from None
                time.sleep(0.1)

    def call(self, path: str, inputs: list[dict]) -> list[dict]:
        body = json.dumps({"requestId": secrets.token_hex(6), "operator": "bench", "inputs": inputs}).encode()
        req = urllib.request.Request(
            self.url + path,
            data=body,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=60) as r:
            answer = json.loads(r.read())
        assert answer["resultCode"] == "0", answer
        return answer["results"]["outputs"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--for", dest="for_", default="1m", help="the rule's `for` (demo: the rollout's down_for, 1m)")
    ap.add_argument("--scrape", default="5s", help="scrape and evaluation interval (demo: 5s)")
    ap.add_argument("--group-wait", default="2s", help="Alertmanager group_wait (demo: 2s)")
    ap.add_argument("--group-interval", default="10s", help="Alertmanager group_interval (demo: 10s)")
    args = ap.parse_args()

    from airflow_wecube.orchestrations.rollout import app_attributes
    from airflow_wecube.registry import Registry, load_manifest
    from airflow_wecube.sandbox import manifest_paths

    home = Path(tempfile.mkdtemp(prefix="wecube-bench-loop-"))
    (home / "dags").mkdir()
    stops = []
    try:
        sandbox = Sandbox(home)
        stops.append(lambda: stop_process_group(sandbox.proc, grace=10))
        port = _free_port()
        am = start_alertmanager(home / "alertmanager", webhook_url=None)
        stops.append(am.stop)
        prom = start_prometheus(home / "prometheus", scrape_interval=args.scrape, alertmanager_url=am.url)
        stops.append(prom.stop)
        registry = home / "wecube_plugins"
        reg = Registry(registry)
        for path in manifest_paths():
            reg.register(load_manifest(path), replace=True)
        conns = {
            "AIRFLOW_CONN_WECUBE_DEFAULT": json.dumps(
                {"conn_type": "wecube", "host": sandbox.url, "password": sandbox.token}
            ),
            "AIRFLOW_CONN_PROMETHEUS_DEFAULT": json.dumps(
                {
                    "conn_type": "prometheus",
                    "host": prom.url,
                    "extra": {"file_sd_dir": str(prom.file_sd_dir), "rules_dir": str(prom.rules_dir)},
                }
            ),
            "AIRFLOW_CONN_ALERTMANAGER_DEFAULT": json.dumps(
                {"conn_type": "alertmanager", "host": am.url, "password": am.secret}
            ),
            "WECUBE_REGISTRY_PATH": str(registry),
        }
        sa = Standalone(home, port, standalone_env(home, port, conns))
        print(f"starting airflow standalone in {home} on port {port} ...", flush=True)
        sa.start()
        stops.insert(0, sa.stop)
        import yaml

        from tests.fixtures.alertmanager import alertmanager_config

        am.config_path.write_text(
            yaml.safe_dump(
                alertmanager_config(
                    f"{sa.url}/wecube/alerts",
                    am.secret_file,
                    group_wait=args.group_wait,
                    group_interval=args.group_wait,
                )
            )
        )
        urllib.request.urlopen(urllib.request.Request(f"{am.url}/-/reload", method="POST"), timeout=10).close()
        sa.add_dags([REPO / "dags" / f"{RUNBOOK}.py"])
        sa.wait_for_dag(RUNBOOK)

        hosts = [f"bench-{i}" for i in range(1, args.rounds + 1)]
        sandbox.call(
            "/network/v1/vpc/create",
            [{"callbackParameter": "v", "name": "bv", "cidr": "10.97.0.0/16", "data_center": "bd"}],
        )
        sandbox.call(
            "/network/v1/subnet/create",
            [{"callbackParameter": "s", "name": "bs", "vpc": "bv", "zone": "z", "prefix_length": 24}],
        )
        sandbox.call("/host/v1/host/create", [{"callbackParameter": h, "name": h, "subnet": "bs"} for h in hosts])
        deployed = sandbox.call(
            "/deploy/v1/app/deploy",
            [{"callbackParameter": h, "host": h, "app": APP, "version": "1.0.0", "rate": 2} for h in hosts],
        )
        (prom.file_sd_dir / f"{JOB}.json").write_text(
            json.dumps([{"targets": [d["target"] for d in deployed], "labels": {"job": JOB, "app": APP}}])
        )
        rule = {
            "alert": ALERT,
            "expr": f'up{{job="{JOB}"}} == 0',
            "for": args.for_,
            "labels": {"severity": "critical", "app": APP, "job": JOB},
        }
        (prom.rules_dir / "bench.yml").write_text(yaml.safe_dump({"groups": [{"name": JOB, "rules": [rule]}]}))
        urllib.request.urlopen(urllib.request.Request(f"{prom.url}/-/reload", method="POST"), timeout=10).close()
        [ci] = sandbox.call("/cmdb/v1/ci/create", [{"callbackParameter": "a", "type": "app", "name": APP}])
        attrs = app_attributes({"app": APP, "version": "1.0.0"}, deployed, [], {"group": JOB}, "bench")
        sandbox.call("/cmdb/v1/ci/update", [{"callbackParameter": "a", "guid": ci["guid"], "attributes": attrs}])

        def up(target: str) -> str | None:
            q = urllib.parse.urlencode({"query": f'up{{job="{JOB}",instance="{target}"}}'})
            res = prom.api("query?" + q)["data"]["result"]
            return res[0]["value"][1] if res else None

        for d in deployed:
            sa.wait_for(lambda d=d: up(d["target"]) == "1", 120, f"{d['target']} scraped", interval=0.2)
        client = sa.client()
        rows = []
        for d in deployed:
            target = d["target"]
            before = {r["dag_run_id"] for r in client.request("GET", f"/api/v2/dags/{RUNBOOK}/dagRuns")["dag_runs"]}
            t_crash = time.time()
            sandbox.call("/deploy/v1/app/crash", [{"callbackParameter": "c", "host": d["host"], "app": APP}])

            def firing(target=target):
                for a in prom.api("alerts")["data"]["alerts"]:
                    if a["labels"].get("instance") == target and a["state"] == "firing":
                        return time.time()
                return None

            t_firing = sa.wait_for(firing, seconds(args.for_) + 120, "alert firing", interval=0.05)

            def new_run(before=before, target=target):
                """The new run that carries this crash's firing alert (resolved alerts start runs too)."""
                runs = client.request("GET", f"/api/v2/dags/{RUNBOOK}/dagRuns")["dag_runs"]
                for r in sorted(runs, key=lambda r: r["run_after"]):
                    if r["dag_run_id"] in before or not r.get("start_date"):
                        continue
                    try:
                        triaged = client.xcom(RUNBOOK, r["dag_run_id"], "triage", key="triaged")
                    except Exception:  # not pushed yet
                        continue
                    if any(e["instance"] == target and e["status"] == "firing" for e in triaged["entries"]):
                        return r
                return None

            run = sa.wait_for(new_run, 300, "the runbook's run", interval=0.5)

            def first_up(target=target, since=t_crash):
                """The scrape that saw the instance up again (after it was seen down): Prometheus's own time."""
                q = urllib.parse.urlencode({"query": f'up{{job="{JOB}",instance="{target}"}}[15m]'})
                result = prom.api("query?" + q)["data"]["result"]
                down = False
                for ts, value in result[0]["values"] if result else []:
                    if ts < since:
                        continue
                    down = down or value == "0"
                    if down and value == "1":
                        return ts
                return None

            t_up = sa.wait_for(first_up, 300, "up again", interval=0.5)
            events = client.asset_events(limit=100, order_by="-timestamp")
            [event] = [
                e
                for e in events
                if e["extra"].get("status") == "firing" and e["extra"].get("labels", {}).get("instance") == target
            ][:1]
            t_event = stamp(event["timestamp"])
            t_run = stamp(run["start_date"])
            sa.wait_for_run_state(RUNBOOK, run["dag_run_id"], timeout=300)
            row = {
                "detection": t_firing - t_crash,
                "grouping": t_event - t_firing,
                "alert→run": t_run - t_event,
                "remediation": t_up - t_run,
                "total": t_up - t_crash,
            }
            rows.append(row)
            print(target, {k: round(v, 1) for k, v in row.items()}, flush=True)
        goal = seconds(args.for_) + 2 * seconds(args.scrape) + seconds(args.group_wait) + 30
        cols = list(rows[0])
        print(f"\nfor {args.for_}, scrape {args.scrape}, group_wait {args.group_wait}; goal total ≤ {goal:.0f} s\n")
        print("| round | " + " | ".join(cols) + " |")
        print("|---" * (len(cols) + 1) + "|")
        for i, r in enumerate(rows, 1):
            print(f"| {i} | " + " | ".join(f"{r[c]:.1f} s" for c in cols) + " |")
        print("| median | " + " | ".join(f"{statistics.median(r[c] for r in rows):.1f} s" for c in cols) + " |")
        with open("/proc/loadavg") as f:
            print(f"\nload average: {f.read().split()[:3]}")
        return 0
    finally:
        for stop in stops:
            try:
                stop()
            except Exception as e:  # keep stopping the rest
                print(f"stop failed: {e}", file=sys.stderr)
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
