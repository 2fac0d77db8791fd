"""The sandbox ``deploy`` plugin over real HTTP: real account-service processes on sandbox hosts,
health checks, rollback, stop; every process started is gone at the end."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.fixtures.sandbox import SandboxServer, free_port
from tests.fixtures.waiting import wait_for
from tests.integration.sandbox.helpers import metric_values, one, outputs, services_on, uniq

pytestmark = pytest.mark.integration


def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def hosts(sandbox):
    """Two hosts in one subnet; at the end they are destroyed and no account service is left."""
    vpc = one(sandbox, "/network/v1/vpc/create", name=uniq("vpc"), cidr="10.90.0.0/16", data_center="dc-deploy")
    subnet = one(sandbox, "/network/v1/subnet/create", name=uniq("sn"), vpc=vpc["guid"], zone="a", prefix_length=24)
    names = [uniq("app-host") for _ in range(2)]
    made = outputs(
        sandbox.post(
            "/host/v1/host/create", [{"callbackParameter": n, "name": n, "subnet": subnet["guid"]} for n in names]
        )
    )
    yield made
    for h in made:
        sandbox.post("/host/v1/host/destroy", [{"callbackParameter": h["name"], "host": h["guid"]}])
    for h in made:
        assert services_on(h["port_base"]) == []


def test_deploy_runs_the_service_and_redeploying_changes_nothing(sandbox, hosts):
    host = hosts[0]
    app = uniq("accounts")
    out = one(sandbox, "/deploy/v1/app/deploy", host=host["name"], app=app, version="1.0.0", rate=20)
    port = host["port_base"]
    assert (out["status"], out["version"], out["port"], out["changed"]) == ("running", "1.0.0", port, "Y")
    assert out["previous_version"] == ""
    assert out["metrics_url"] == f"http://127.0.0.1:{port}/metrics" and out["target"] == f"127.0.0.1:{port}"
    assert services_on(port) == [out["pid"]]
    health = requests.get(out["health_url"], timeout=5)
    assert health.status_code == 200 and health.json() == {"status": "ok", "version": "1.0.0", "pid": out["pid"]}

    values = wait_for(  # 20 opens/s: the load runs
        lambda: (v := metric_values(out["metrics_url"]))["accounts_opened_total"] >= 3 and v, 10, "opened accounts"
    )
    assert values["accounts_opened_total"] >= 3
    assert "accounts_closed_total" in values and "account_errors_total" in values
    assert values["process_cpu_seconds_total"] > 0
    assert values["account_load_rate:open"] == 20 and values["account_load_rate:close"] == 12  # the old rate

    (ci,) = one(sandbox, "/cmdb/v1/ci/query", type="app_instance", name=f"{app}@{host['name']}")["items"]
    assert ci["guid"] == out["guid"]
    attrs = ci["attributes"]
    assert (attrs["host_guid"], attrs["port"], attrs["version"], attrs["pid"], attrs["status"]) == (
        host["guid"],
        port,
        "1.0.0",
        out["pid"],
        "running",
    )
    assert attrs["metrics_url"] == out["metrics_url"]
    assert (Path(host["workspace"]) / app / "service.log").exists()

    again = one(sandbox, "/deploy/v1/app/deploy", host=host["guid"], app=app, version="1.0.0", rate=20)
    assert (again["changed"], again["pid"], again["guid"]) == ("N", out["pid"], out["guid"])
    assert services_on(port) == [out["pid"]]

    stopped = one(sandbox, "/deploy/v1/app/stop", host=host["name"], app=app)
    assert (stopped["status"], stopped["pid"], stopped["changed"]) == ("stopped", "", "Y")
    assert services_on(port) == [] and not listening(port)
    assert one(sandbox, "/deploy/v1/app/stop", host=host["name"], app=app)["changed"] == "N"
    (ci,) = one(sandbox, "/cmdb/v1/ci/query", type="app_instance", name=f"{app}@{host['name']}")["items"]
    assert ci["attributes"]["status"] == "stopped" and "pid" not in ci["attributes"]


def test_error_rate_fails_that_share_of_operations(sandbox, hosts):
    """``error_rate`` reaches the service: its error counter grows with the load, about that share of it."""
    host = hosts[0]
    app = uniq("errors")
    out = one(sandbox, "/deploy/v1/app/deploy", host=host["name"], app=app, version="1.0.0", rate=50, error_rate=0.5)
    try:
        start = metric_values(out["metrics_url"])["account_errors_total"]
        values = wait_for(
            lambda: (v := metric_values(out["metrics_url"]))["account_errors_total"] >= start + 10 and v,
            10,
            "account_errors_total to grow",
        )
        done = values["accounts_opened_total"] + values["accounts_closed_total"] + values["account_errors_total"]
        assert 0.25 < values["account_errors_total"] / done < 0.85, values
    finally:
        one(sandbox, "/deploy/v1/app/stop", host=host["name"], app=app)
    assert services_on(out["port"]) == []


def test_upgrade_broken_version_and_rollback(sandbox, hosts):
    host = hosts[1]
    app = uniq("accounts")
    v1 = one(sandbox, "/deploy/v1/app/deploy", host=host["name"], app=app, version="1.0.0")
    v2 = one(sandbox, "/deploy/v1/app/deploy", host=host["name"], app=app, version="2.0.0")
    port = v1["port"]
    assert (v2["version"], v2["previous_version"], v2["changed"]) == ("2.0.0", "1.0.0", "Y")
    assert v2["pid"] != v1["pid"] and services_on(port) == [v2["pid"]]

    # a broken version fails its health check: entity error, and no process left behind
    started = time.monotonic()
    broken = one(sandbox, "/deploy/v1/app/deploy", code="1", host=host["name"], app=app, version="3.0.0-broken")
    assert time.monotonic() - started < 15
    message = broken["errorMessage"]
    assert "health check" in message and "3.0.0-broken" in message and "answered 500" in message
    assert "the process was stopped" in message
    assert services_on(port) == [] and not listening(port)
    (ci,) = one(sandbox, "/cmdb/v1/ci/query", type="app_instance", name=f"{app}@{host['name']}")["items"]
    assert (ci["attributes"]["status"], ci["attributes"]["version"]) == ("failed", "3.0.0-broken")
    assert ci["attributes"]["previous_version"] == "2.0.0"

    # rollback: back to the version that served before the failed one
    rid = uniq("rollback")
    back = one(sandbox, "/deploy/v1/app/rollback", request_id=rid, host=host["guid"], app=app)
    assert (back["version"], back["status"], back["rolled_back_from"], back["previous_version"]) == (
        "2.0.0",
        "running",
        "3.0.0-broken",
        "",
    )
    assert services_on(port) == [back["pid"]]
    assert requests.get(back["health_url"], timeout=5).json()["version"] == "2.0.0"
    # the same request again (a retry) gets the first answer (idempotency.py); a new one has nothing
    # to roll back to
    retry = one(sandbox, "/deploy/v1/app/rollback", request_id=rid, host=host["guid"], app=app)
    assert retry == back
    nothing = one(sandbox, "/deploy/v1/app/rollback", code="1", host=host["guid"], app=app)
    assert nothing["errorMessage"] == f"app {app} on host {host['name']} has no previous version to roll back to"

    # upgrade once more, then roll back from a healthy version: the old process is replaced
    v4 = one(sandbox, "/deploy/v1/app/deploy", host=host["name"], app=app, version="4.0.0")
    back = one(sandbox, "/deploy/v1/app/rollback", host=host["name"], app=app)
    assert (back["version"], back["rolled_back_from"]) == ("2.0.0", "4.0.0")
    assert services_on(port) == [back["pid"]] and back["pid"] != v4["pid"]

    # destroying the host stops what runs on it
    gone = one(sandbox, "/host/v1/host/destroy", host=host["guid"])
    assert gone["stopped_apps"] == [app]
    assert services_on(port) == [] and not listening(port)
    (ci,) = one(sandbox, "/cmdb/v1/ci/query", type="app_instance", name=f"{app}@{host['name']}")["items"]
    assert ci["attributes"]["status"] == "destroyed"


def test_one_call_deploys_per_entity(sandbox, hosts):
    host = hosts[0]
    good, bad = uniq("good"), uniq("bad")
    out = outputs(
        sandbox.post(
            "/deploy/v1/app/deploy",
            [
                {"callbackParameter": "g", "host": host["name"], "app": good, "version": "1.0.0"},
                {"callbackParameter": "b", "host": host["name"], "app": bad, "version": "1.0.0-broken"},
                {"callbackParameter": "n", "host": "no-such-host", "app": good, "version": "1.0.0"},
                {"callbackParameter": "v", "host": host["name"], "app": good, "version": "1.0 final"},
            ],
        ),
        code="1",
    )
    assert [o["errorCode"] for o in out] == ["0", "1", "1", "1"]
    assert "unknown host 'no-such-host'" in out[2]["errorMessage"]
    assert "input version must be" in out[3]["errorMessage"]
    assert services_on(out[0]["port"]) == [out[0]["pid"]]
    (bad_ci,) = one(sandbox, "/cmdb/v1/ci/query", type="app_instance", name=f"{bad}@{host['name']}")["items"]
    assert services_on(bad_ci["attributes"]["port"]) == []
    assert bad_ci["attributes"]["port"] != out[0]["port"]  # two apps on one host get two ports
    one(sandbox, "/deploy/v1/app/stop", host=host["name"], app=good)
    assert services_on(out[0]["port"]) == []


def _start_sandbox(folder: Path, port: int, port_base: int) -> tuple[subprocess.Popen, SandboxServer]:
    env = {**os.environ, "WECUBE_SANDBOX_PORT_BASE": str(port_base), "WECUBE_SANDBOX_HOST_PORTS": "3"}
    log = (folder / "sandbox.log").open("ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "airflow_wecube.sandbox", "--port", str(port), "--db", str(folder / "s.db")]
        + ["--token", "own-token"],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )
    log.close()
    url = f"http://127.0.0.1:{port}"
    server = SandboxServer(url, "own-token", port, folder / "s.db", folder / "sandbox.log", proc.pid)
    deadline = time.monotonic() + 20
    while True:
        assert proc.poll() is None, (folder / "sandbox.log").read_text()
        try:
            if requests.get(server.url + "/health", timeout=1).ok:
                return proc, server
        except requests.RequestException:
            pass
        assert time.monotonic() < deadline, "sandbox did not start"
        time.sleep(0.1)


def _kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def _ci(server: SandboxServer, name: str) -> dict:
    (ci,) = one(server, "/cmdb/v1/ci/query", type="app_instance", name=name)["items"]
    return ci["attributes"]


def _gone(port: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while services_on(port) and time.monotonic() < deadline:
        time.sleep(0.1)
    return services_on(port) == []


def test_sandbox_restart_starts_its_apps_again_and_the_cmdb_tells_the_truth(tmp_path):
    """Apps die with the sandbox (SIGTERM: it stops them; SIGKILL: they notice and exit). On the next
    start the sandbox starts again every app that was running, as a host's service manager does after
    a reboot; one that cannot start is marked failed; one stopped on purpose stays stopped. The CMDB
    never shows a dead pid as running."""
    port, port_base = free_port(), 20000 + 10 * secrets.randbelow(3000)
    proc, own = _start_sandbox(tmp_path, port, port_base)
    app_pids: list[int] = []
    blocker = None
    try:
        one(own, "/network/v1/vpc/create", name="v", cidr="10.1.0.0/16", data_center="dc")
        one(own, "/network/v1/subnet/create", name="s", vpc="v", zone="a", prefix_length=24)
        host = one(own, "/host/v1/host/create", name="h", subnet="s")
        assert host["ports"].endswith(f"-{host['port_base'] + 2}")  # WECUBE_SANDBOX_HOST_PORTS=3
        assert host["port_base"] >= port_base and (host["port_base"] - port_base) % 3 == 0
        first = one(own, "/deploy/v1/app/deploy", host="h", app="acc", version="1.0.0", rate=0)
        idle = one(own, "/deploy/v1/app/deploy", host="h", app="idle", version="1.0.0", rate=0)
        one(own, "/deploy/v1/app/stop", host="h", app="idle")
        app_pids += [first["pid"], idle["pid"]]

        # a clean shutdown stops the apps and says so ...
        os.killpg(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=15) in (0, -signal.SIGTERM)  # uvicorn re-raises SIGTERM after shutdown
        assert services_on(first["port"]) == []
        # ... and the next start runs them again, under new pids that the CMDB records
        proc, own = _start_sandbox(tmp_path, port, port_base)
        ci = _ci(own, "acc@h")
        assert ci["status"] == "running" and ci["pid"] != first["pid"]
        app_pids.append(ci["pid"])
        assert services_on(first["port"]) == [ci["pid"]]
        health = requests.get(ci["health_url"], timeout=5).json()
        assert health == {"status": "ok", "version": "1.0.0", "pid": ci["pid"]}
        assert _ci(own, "idle@h")["status"] == "stopped" and services_on(idle["port"]) == []
        assert one(own, "/host/v1/host/create", name="h", subnet="s")["created"] == "N"
        again = one(own, "/deploy/v1/app/deploy", host="h", app="acc", version="1.0.0", rate=0)
        assert again["changed"] == "N" and again["pid"] == ci["pid"]  # it runs: nothing to do

        # a crash (SIGKILL): the apps exit by themselves; one app's port is then taken by another program
        third = one(own, "/deploy/v1/app/deploy", host="h", app="third", version="1.0.0", rate=0)
        app_pids.append(third["pid"])
        _kill(proc)
        assert _gone(again["port"]) and _gone(third["port"])
        blocker = socket.socket()
        blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # the old app's port may be in TIME_WAIT
        blocker.bind(("127.0.0.1", third["port"]))
        blocker.listen()
        proc, own = _start_sandbox(tmp_path, port, port_base)
        ci = _ci(own, "acc@h")
        assert ci["status"] == "running" and ci["pid"] not in app_pids
        app_pids.append(ci["pid"])
        assert services_on(again["port"]) == [ci["pid"]]
        failed = _ci(own, "third@h")
        assert failed["status"] == "failed" and "pid" not in failed
        assert f"port {third['port']}" in failed["message"] and "in use" in failed["message"], failed
        assert _ci(own, "idle@h")["status"] == "stopped"
        _kill(proc)
        assert _gone(again["port"])
    finally:
        if blocker is not None:
            blocker.close()
        _kill(proc)
        for pid in app_pids:
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
