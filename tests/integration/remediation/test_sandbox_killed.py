"""The plugin server (the sandbox: CMDB and deploy) killed for real in the middle of a remediation: the
redeploy fails, and once the server is back the failed attempt is in the target's CMDB history and its
lock is given back, not left held until it goes stale."""

from __future__ import annotations

import json
import os
import signal
import threading
import time

import pytest

from airflow_wecube.hooks.plugin import WeCubePluginHook
from airflow_wecube.orchestrations.rollout import app_attributes
from airflow_wecube.remediation import instance
from airflow_wecube.remediation.alerts import Alert
from airflow_wecube.remediation.guard import ACT, Policy
from airflow_wecube.remediation.runs import RECORD_WAIT
from tests.fixtures.sandbox import _stop, start_sandbox
from tests.integration.sandbox.helpers import one, outputs, query_ci, uniq

pytestmark = pytest.mark.integration

ME = "wecube_remediate_instance/run-killed"


@pytest.fixture
def own_sandbox(tmp_path, monkeypatch, plugin_registry):
    """A sandbox of this test's own (it is killed), ``wecube_default`` pointing at it (no retries: a dead
    server fails a call at once); ``restart()`` starts it again on the same port and state."""
    procs = []
    proc, server = start_sandbox(tmp_path)
    procs.append(proc)
    monkeypatch.setenv(
        "AIRFLOW_CONN_WECUBE_DEFAULT",
        json.dumps({"conn_type": "wecube", "host": server.url, "password": server.token, "extra": {"retry_limit": 0}}),
    )

    def restart():
        again, _ = start_sandbox(tmp_path, port=server.port, token=server.token)
        procs.append(again)

    try:
        yield server, restart
    finally:
        for p in procs:
            _stop(p)


def test_a_sandbox_killed_mid_remediation_still_gets_the_attempt_and_the_lock_back(own_sandbox):
    sandbox, restart = own_sandbox
    vpc = one(sandbox, "/network/v1/vpc/create", name=uniq("vpc"), cidr="10.93.0.0/16", data_center="dc-kill")
    subnet = one(sandbox, "/network/v1/subnet/create", name=uniq("sn"), vpc=vpc["guid"], zone="a", prefix_length=24)
    host = one(sandbox, "/host/v1/host/create", name=uniq("kill-host"), subnet=subnet["guid"])
    app = uniq("kill-app")
    out = one(sandbox, "/deploy/v1/app/deploy", host=host["guid"], app=app, version="1.0.0", rate=1)
    attrs = app_attributes({"app": app, "version": "1.0.0"}, [out], [out["target"]], {}, "manual__rollout")
    ci = one(sandbox, "/cmdb/v1/ci/create", type="app", name=app)
    one(sandbox, "/cmdb/v1/ci/update", guid=ci["guid"], attributes=attrs)
    try:
        hook, now = WeCubePluginHook(), time.time()
        labels = {"alertname": "AccountServiceDown", "app": app, "instance": out["target"], "job": "j"}
        alert = Alert(status="firing", labels=labels, fingerprint="fp-" + app, starts_at="2026-12-01T20:00:00Z")
        policy = Policy(cooldown=300)
        [entry] = instance.triage([alert], hook=hook, now=now, mode="on", policy=policy, me=ME, running=lambda h: True)
        [claimed] = instance.claim([entry], hook=hook, now=now, policy=policy, me=ME, running=lambda h: True, mode="on")
        assert claimed["decision"] == ACT and claimed["locked"]
        (record,) = query_ci(sandbox, "remediation", entry["target"])
        assert record["attributes"]["holder"] == ME

        # the server dies for real (SIGKILL: no cleanup) while the run acts
        os.kill(sandbox.pid, signal.SIGKILL)
        [done] = instance.redeploy([claimed], hook=hook, request_id=uniq("req"), clock=time.time)
        assert not done["deployed"] and done["error"].startswith("redeploy failed:")
        [judged] = instance.judge([done], {}, now=time.time())
        assert judged["outcome"] == "failed"

        # finish records while the server is still down; it comes back a few seconds later
        result: dict = {}

        def finish():
            started = time.monotonic()
            result["entries"], result["problems"] = instance.record(
                [judged], hook=hook, me=ME, now=time.time(), wait=RECORD_WAIT
            )
            result["seconds"] = time.monotonic() - started

        worker = threading.Thread(target=finish)
        worker.start()
        time.sleep(3)  # the outage this test is about: finish must outlast it, not the other way round
        assert worker.is_alive(), f"finish gave up while the CMDB was down: {result}"
        restart()
        worker.join(RECORD_WAIT)
        assert not worker.is_alive() and result["problems"] == [], result
        assert result["seconds"] >= 3

        (record,) = query_ci(sandbox, "remediation", entry["target"])
        assert not record["attributes"].get("holder"), record["attributes"]  # the lock is free again
        [attempt] = [a for a in record["attributes"]["attempts"] if a["run"] == ME]
        assert attempt["decision"] == ACT and attempt["outcome"] == "failed"
        assert attempt["error"].startswith("redeploy failed:")
    finally:
        if os.path.exists(sandbox.log_path) and _healthy(sandbox):
            outputs(sandbox.post("/host/v1/host/destroy", [{"callbackParameter": "h", "host": host["guid"]}]))


def _healthy(sandbox) -> bool:
    import requests

    try:
        return requests.get(f"{sandbox.url}/health", timeout=2).ok
    except requests.RequestException:
        return False
