"""`make demo` / `make demo-stop` (scripts/demo.sh, scripts/demo-stop.sh) as a user runs them, in a
demo folder and on ports of the test's own: an alert raised in the demo's Alertmanager reaches the
demo's Airflow as an Asset event (route, secret and connection line up); the API server listens on
loopback only and the log servers on the ports given; a DAG's taskman manual task, completed in the
sandbox's inbox, calls back and the run succeeds; a killed scheduler is noticed by the health check
and Airflow is restarted; the stop takes under 20 s and leaves no process behind; the app deployed
before the stop serves again after the next `make demo`."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
import requests

from tests.fixtures.sandbox import SandboxServer
from tests.integration.sandbox.helpers import one

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1500)]

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _marked(demo: Path) -> list[int]:
    """Pids of processes carrying this demo's WECUBE_DEMO_PART marker."""
    prefix = f"WECUBE_DEMO_PART={demo}/".encode()
    pids = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if any(e.startswith(prefix) for e in environ.read_bytes().split(b"\0")):
                state = (environ.parent / "stat").read_text().rsplit(")", 1)[1].split()[0]
                if state not in ("Z", "X"):
                    pids.append(int(environ.parent.name))
        except OSError:
            continue
    return pids


def _settings(demo: Path) -> dict[str, str]:
    return dict(
        line.removeprefix("export ").split("=", 1) for line in (demo / "env").read_text().splitlines() if "=" in line
    )


def _listeners(port: int) -> set[str]:
    """The local addresses with a socket listening on ``port`` (from /proc/net/tcp and tcp6)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, _, state = line.split()[1:4]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                if len(address) == 8:
                    found.add(socket.inet_ntop(socket.AF_INET, bytes.fromhex(address)[::-1]))
                else:
                    words = b"".join(bytes.fromhex(address[i : i + 8])[::-1] for i in range(0, 32, 8))
                    found.add(socket.inet_ntop(socket.AF_INET6, words))
    return found


def _wait(what: str, check, timeout: float = 180.0, interval: float = 1.0):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        assert time.monotonic() < deadline, f"no {what} after {timeout:g}s"
        time.sleep(interval)


def _sandbox(demo: Path) -> SandboxServer:
    settings = _settings(demo)
    url = settings["SANDBOX_URL"]
    port = int(url.rsplit(":", 1)[1])
    return SandboxServer(url, settings["SANDBOX_TOKEN"], port, demo / "sandbox.db", demo / "sandbox.log", 0)


def _deploy_an_app(demo: Path) -> dict:
    """An account-service instance on a host of the demo's sandbox (its network first)."""
    sandbox = _sandbox(demo)
    one(sandbox, "/network/v1/vpc/create", name="vpc-e2e", cidr="10.7.0.0/16", data_center="dc-e2e")
    one(sandbox, "/network/v1/subnet/create", name="sn-e2e", vpc="vpc-e2e", zone="a", prefix_length=24)
    one(sandbox, "/host/v1/host/create", name="host-e2e", subnet="sn-e2e")
    app = one(sandbox, "/deploy/v1/app/deploy", host="host-e2e", app="acct-e2e", version="1.0.0", rate=0)
    assert app["status"] == "running", app
    return app


def _app_record(demo: Path) -> dict:
    (ci,) = one(_sandbox(demo), "/cmdb/v1/ci/query", type="app_instance", name="acct-e2e@host-e2e")["items"]
    return ci["attributes"]


def _manual_task_calls_back(demo: Path) -> None:
    """Issue 25 item 5: wecube_manual_task's taskman call (async) opens a task in the sandbox's inbox;
    completed there, taskman's callback reaches the demo's Airflow and the run goes on to success."""
    from airflow_wecube.util.airflow_api import AirflowClient

    settings = _settings(demo)
    inbox = f"{settings['SANDBOX_URL']}/taskman/inbox/api/tasks"
    with AirflowClient(settings["AIRFLOW_URL"], settings["AIRFLOW_USER"], settings["AIRFLOW_PASSWORD"]) as client:
        run_id = client.trigger("wecube_manual_task", {"task": "e2e check"})["dag_run_id"]

        def open_task():
            r = requests.get(inbox, params={"procInstId": f"wecube_manual_task/{run_id}", "status": "open"}, timeout=10)
            r.raise_for_status()
            if not r.json():
                ask = client.task_instances("wecube_manual_task", run_id).get("ask", {}).get("state")
                assert ask not in ("failed", "upstream_failed", "success"), (
                    ask,
                    (demo / "airflow.log").read_text()[-3000:],
                )
            return r.json()

        (task,) = _wait("open taskman task", open_task)
        done = requests.post(f"{inbox}/{task['id']}/complete", json={"option": "Approve", "comment": "e2e"}, timeout=10)
        assert done.status_code == 200, done.text

        def finished():
            state = client.get_run("wecube_manual_task", run_id)["state"]
            return state if state in ("success", "failed") else None

        assert _wait("end of the wecube_manual_task run", finished) == "success"
        assert client.xcom("wecube_manual_task", run_id, "go_on") == "Approve: e2e"


def _health(url: str) -> dict:
    with urllib.request.urlopen(f"{url}/api/v2/monitor/health", timeout=5) as r:
        return json.load(r)


@pytest.fixture
def demo():
    """A demo folder of the test's own (not under pytest's tmp_path, which other pytest sessions of
    the same user may rotate away while the demo runs)."""
    folder = Path(tempfile.mkdtemp(prefix="wecube-demo-e2e-"))
    yield folder / "demo"
    shutil.rmtree(folder, ignore_errors=True)


def _alert_reaches_airflow(demo: Path) -> None:
    """An alert posted to the demo's Alertmanager becomes an event on ``wecube-alert://DemoSelfCheck``."""
    from airflow_wecube.util.airflow_api import AirflowClient

    settings = dict(
        line.removeprefix("export ").split("=", 1) for line in (demo / "env").read_text().splitlines() if "=" in line
    )
    assert settings["ALERTS_WEBHOOK_URL"] == f"{settings['AIRFLOW_URL']}/wecube/alerts"
    alert = [{"labels": {"alertname": "DemoSelfCheck", "instance": "demo"}, "annotations": {"summary": "check"}}]
    request = urllib.request.Request(
        f"{settings['ALERTMANAGER_URL']}/api/v2/alerts",
        data=json.dumps(alert).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as r:
        assert r.status == 200
    with AirflowClient(settings["AIRFLOW_URL"], settings["AIRFLOW_USER"], settings["AIRFLOW_PASSWORD"]) as client:
        deadline = time.monotonic() + 60
        while True:
            assets = client.request(
                "GET", "/api/v2/assets", params={"uri_pattern": "wecube-alert://DemoSelfCheck", "only_active": "false"}
            )
            if assets["assets"]:
                asset_id = assets["assets"][0]["id"]
                events = client.asset_events(asset_id=asset_id)
                if any(e["extra"]["labels"] == alert[0]["labels"] for e in events):
                    break
            log = (demo / "alertmanager.log").read_text(errors="replace")[-2000:]
            assert time.monotonic() < deadline, f"no asset event for the demo's alert; alertmanager.log:\n{log}"
            time.sleep(1)


def test_demo_restarts_a_dead_scheduler_and_demo_stop_takes_under_20s(demo):
    airflow_port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "WECUBE", "DEMO_"))}
    env.update(
        PATH=f"{Path(sys.executable).parent}:{env['PATH']}",
        DEMO_DIR=str(demo),
        DEMO_AIRFLOW_PORT=str(airflow_port),
        DEMO_SANDBOX_PORT=str(_free_port()),
        DEMO_PROMETHEUS_PORT=str(_free_port()),
        DEMO_ALERTMANAGER_PORT=str(_free_port()),
        DEMO_UNPAUSE_DAGS="wecube_hello wecube_manual_task",
        WECUBE_SANDBOX_PORT_BASE=str(30000 + 10 * (os.getpid() % 2000)),
        DEMO_WORKER_LOG_SERVER_PORT=str(_free_port()),
        DEMO_TRIGGER_LOG_SERVER_PORT=str(_free_port()),
        # Airflow's default threshold (30 s): a lower one made a live scheduler on a busy machine look dead
        AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_THRESHOLD="30",
    )
    url = f"http://localhost:{airflow_port}"

    def run(script: str, timeout: float = 600) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["bash", str(REPO / "scripts" / script)], capture_output=True, text=True, timeout=timeout, env=env
        )

    try:
        first = run("demo.sh")
        assert first.returncode == 0, first.stderr[-3000:]
        assert "already running" not in first.stderr
        again = run("demo.sh")
        assert again.returncode == 0 and "demo: already running" in again.stderr, again.stderr[-3000:]
        _alert_reaches_airflow(demo)
        # issue 25 item 10: the API server on loopback only; the log servers on the ports given
        assert _listeners(airflow_port) == {"127.0.0.1"}
        for setting in ("DEMO_WORKER_LOG_SERVER_PORT", "DEMO_TRIGGER_LOG_SERVER_PORT"):
            _wait(f"log server on {setting}", lambda s=setting: _listeners(int(env[s])), timeout=60)
        _manual_task_calls_back(demo)
        app = _deploy_an_app(demo)

        pgid = int((demo / "airflow.pgid").read_text())
        schedulers = [
            int(p.parent.name)
            for p in Path("/proc").glob("[0-9]*/cmdline")
            if b"scheduler" in p.read_bytes().split(b"\0")[1:3] and int(p.parent.name) in _marked(demo)
        ]
        assert schedulers, "no scheduler process found"
        for pid in schedulers:
            os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 120
        while _health(url)["scheduler"]["status"] == "healthy":
            assert time.monotonic() < deadline, "the scheduler stayed healthy after it was killed"
            time.sleep(2)

        restarted = run("demo.sh")
        assert restarted.returncode == 0, restarted.stderr[-3000:]
        assert "demo: airflow runs but is not healthy" in restarted.stderr, restarted.stderr[-3000:]
        assert "scheduler unhealthy" in restarted.stderr
        assert int((demo / "airflow.pgid").read_text()) != pgid
        assert _health(url)["scheduler"]["status"] == "healthy"

        began = time.monotonic()
        stopped = run("demo-stop.sh", timeout=120)
        took = time.monotonic() - began
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
        assert took < 20, (took, stopped.stdout)
        assert _marked(demo) == []
        sandbox_log = (demo / "sandbox.log").read_text()  # the next start writes a new one
        assert "crashed" not in sandbox_log, sandbox_log[-2000:]

        # issue 25 item 4: the next `make demo` starts the deployed app again; it was stopped, not crashed
        again = run("demo.sh")
        assert again.returncode == 0, again.stderr[-3000:]
        now = _app_record(demo)
        assert now["status"] == "running" and now["pid"] != app["pid"], now
        assert requests.get(now["health_url"], timeout=5).json()["version"] == "1.0.0"
        stopped = run("demo-stop.sh", timeout=120)
        assert stopped.returncode == 0 and _marked(demo) == [], stopped.stdout + stopped.stderr
    finally:
        if _marked(demo):
            run("demo-stop.sh", timeout=120)
        for pid in _marked(demo):
            os.kill(pid, signal.SIGKILL)
