"""The plugin server killed for real in the middle of a ``wecube_remediate_instance`` run: the session's
sandbox (CMDB and deploy) gets SIGKILL once the run holds the target's lock, and is started again (same
port and state) while ``finish`` runs. ``finish`` waits for the CMDB, records the failed attempt in the
target's history and gives the lock back (it used to leave both until the lock went stale); a person is
asked, told the fix failed.
"""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.request
from datetime import datetime, timezone

import pytest

from tests.e2e.remediation.conftest import ALERT, APP, JOB, RUNBOOK
from tests.fixtures.sandbox import restart_sandbox

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

HOST = "acct-off"


def post_alert(loop, target: str) -> dict:
    """A new firing state change of ``target`` straight to the webhook (as Alertmanager would send it)."""
    starts = datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")
    alert = {
        "status": "firing",
        "labels": {"alertname": ALERT, "instance": target, "job": JOB, "app": APP, "severity": "critical"},
        "annotations": {"summary": f"{target} of account-service is down"},
        "startsAt": starts,
        "endsAt": "0001-01-01T00:00:00Z",
        "fingerprint": f"{int(time.time() * 1000):016x}",
    }
    body = {"version": "4", "status": "firing", "receiver": "wecube", "alerts": [alert]}
    request = urllib.request.Request(
        f"{loop.sa.url}/wecube/alerts",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {loop.alertmanager.secret}"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=60) as r:
        answer = json.loads(r.read())
    assert len(answer["recorded"]) == 1, answer
    return alert


def record(loop) -> dict:
    [ci] = loop.o.cmdb("remediation", name=f"{APP}@{HOST}")
    return ci["attributes"]


def test_a_sandbox_killed_mid_remediation_records_the_failed_attempt_and_frees_the_lock(loop):
    target = loop.instances[HOST]["target"]
    loop.sa.wait_for(
        lambda: not [r for r in loop.runs() if r["state"] in ("queued", "running")],
        300,
        f"no {RUNBOOK} run active (the sandbox is about to go away)",
        interval=1,
    )
    post_alert(loop, target)

    def holder():
        try:
            held = record(loop).get("holder")
        except (ValueError, AssertionError, OSError):  # no record yet
            return None
        return held if held and held.startswith(f"{RUNBOOK}/") else None

    me = loop.sa.wait_for(holder, 180, f"a run holding the lock of {APP}@{HOST}", interval=0.05)
    run_id = me.split("/", 1)[1]
    os.kill(loop.sandbox.pid, signal.SIGKILL)  # for real: no cleanup, the CMDB is gone mid-run
    try:
        loop.sa.wait_for(
            lambda: loop.read(lambda: loop.o.states(RUNBOOK, run_id), "states").get("finish") == "running",
            300,
            "finish running while the sandbox is down",
            interval=0.5,
        )
    finally:
        restart_sandbox(loop.sandbox)

    detail = loop.o.wait_open(RUNBOOK, run_id, task_id="escalate", timeout=420)
    assert f"{ALERT} on {target}" in detail["body"], detail["body"]
    loop.sa.client("alice").respond(RUNBOOK, run_id, "escalate", "Leave it", {"comment": "sandbox was down"})
    loop.o.wait_run(RUNBOOK, run_id, "failed", timeout=240)

    after = record(loop)
    assert not after.get("holder"), after  # given back, not left until it goes stale
    [attempt] = [a for a in after["attempts"] if a["run"] == me]
    assert attempt["decision"] == "act" and attempt["outcome"] == "failed", attempt
    [entry] = [e for e in loop.entries(run_id) if e["instance"] == target]
    assert entry["outcome"] == "failed"
    assert "could not" not in loop.message(run_id)  # the record was written, nothing left unsaid
