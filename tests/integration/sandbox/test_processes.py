"""The sandbox's process supervisor (:mod:`airflow_wecube.sandbox.processes`) with a real sandbox and
real account-service processes: how the end of an app is recorded when the whole demo stops."""

from __future__ import annotations

import os
import secrets
import signal
import time

import pytest
import requests

from tests.fixtures.sandbox import free_port
from tests.integration.sandbox.helpers import one
from tests.integration.sandbox.test_deploy import _ci, _gone, _kill, _start_sandbox, services_on

pytestmark = pytest.mark.integration


def _recorded_end(server, name: str, timeout: float = 20.0) -> dict:
    """The app's CMDB record once the sandbox noticed its process ended (the pid is cleared)."""
    deadline = time.monotonic() + timeout
    while True:
        ci = _ci(server, name)
        if "pid" not in ci:
            return ci
        assert time.monotonic() < deadline, f"the end of {name}'s process was not recorded: {ci}"
        time.sleep(0.1)


def test_apps_stopped_with_the_sandbox_as_demo_stop_does_are_started_again_not_crashed(tmp_path):
    """Issue 25 item 4: `make demo-stop` sends SIGTERM to the sandbox and to the apps it deployed at
    once, so an app can end before the sandbox's shutdown stops it. That end was recorded "exited with
    code 0 ... (crashed)" and the app stayed down after `make demo`. A clean stop on a signal is a
    stop: the app is recorded stopped, and the next sandbox start runs it again."""
    port, port_base = free_port(), 20000 + 10 * secrets.randbelow(3000)
    proc, own = _start_sandbox(tmp_path, port, port_base)
    pids: list[int] = []
    try:
        one(own, "/network/v1/vpc/create", name="v", cidr="10.3.0.0/16", data_center="dc")
        one(own, "/network/v1/subnet/create", name="s", vpc="v", zone="a", prefix_length=24)
        one(own, "/host/v1/host/create", name="h", subnet="s")
        app = one(own, "/deploy/v1/app/deploy", host="h", app="acc", version="1.0.0", rate=0)
        pids.append(app["pid"])

        # demo-stop's SIGTERM reaches the app (its own session, the demo's marker) before the sandbox's
        os.killpg(app["pid"], signal.SIGTERM)
        ended = _recorded_end(own, "acc@h")
        assert ended["status"] == "stopped", ended
        assert "crashed" not in ended["message"] and "signal from outside" in ended["message"], ended
        os.killpg(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=15) in (0, -signal.SIGTERM)
        assert _gone(app["port"])

        proc, own = _start_sandbox(tmp_path, port, port_base)
        ci = _ci(own, "acc@h")
        assert ci["status"] == "running" and ci["pid"] != app["pid"], ci
        assert "crashed" not in ci.get("message", ""), ci
        pids.append(ci["pid"])
        assert services_on(app["port"]) == [ci["pid"]]
        health = requests.get(ci["health_url"], timeout=5).json()
        assert health == {"status": "ok", "version": "1.0.0", "pid": ci["pid"]}

        # a crash is still a crash: failed, and not started again by the next start
        os.killpg(ci["pid"], signal.SIGKILL)
        crashed = _recorded_end(own, "acc@h")
        assert crashed["status"] == "failed" and "killed by signal 9" in crashed["message"], crashed
        _kill(proc)
        proc, own = _start_sandbox(tmp_path, port, port_base)
        assert _ci(own, "acc@h")["status"] == "failed" and services_on(app["port"]) == []
    finally:
        _kill(proc)
        for pid in pids:
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
