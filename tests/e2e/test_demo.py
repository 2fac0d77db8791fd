"""`make demo` / `make demo-stop` (scripts/demo.sh, scripts/demo-stop.sh) as a user runs them, in a
demo folder and on ports of the test's own: an alert raised in the demo's Alertmanager reaches the
demo's Airflow as an Asset event (route, secret and connection line up); a killed scheduler is noticed
by the health check and Airflow is restarted; the stop takes under 20 s and leaves no process behind."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from tests.fixtures.processes import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1500)]

REPO = Path(__file__).resolve().parents[2]


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
    airflow_port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "WECUBE", "DEMO_"))}
    env.update(
        PATH=f"{Path(sys.executable).parent}:{env['PATH']}",
        DEMO_DIR=str(demo),
        DEMO_AIRFLOW_PORT=str(airflow_port),
        DEMO_SANDBOX_PORT=str(free_port()),
        DEMO_PROMETHEUS_PORT=str(free_port()),
        DEMO_ALERTMANAGER_PORT=str(free_port()),
        DEMO_UNPAUSE_DAGS="wecube_hello",
        WECUBE_SANDBOX_PORT_BASE=str(30000 + 10 * (os.getpid() % 2000)),
        AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=str(free_port()),
        AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT=str(free_port()),
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
    finally:
        if _marked(demo):
            run("demo-stop.sh", timeout=120)
        for pid in _marked(demo):
            os.kill(pid, signal.SIGKILL)
