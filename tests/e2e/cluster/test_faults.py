"""Faults the cluster survives, nothing lost and nothing done twice (docs/cluster.md):

* a worker killed (SIGKILL, every process of it) while its task waits on a plugin call: the task is
  retried on the other worker after the scheduler's heartbeat timeout, with the same requestId, and
  the sandbox answers the retry from its record of the first call;
* the scheduler killed mid-run and started again: the run finishes;
* Redis stopped for 10 s: the tasks queued meanwhile run once it is back.
"""

from __future__ import annotations

import signal
import time

import pytest

from airflow_wecube.protocol.request_ids import stable_request_id
from tests.e2e.cluster.conftest import WORKERS, wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(900)]

CALLS = "wecube_cluster_calls"
#: [scheduler] task_instance_heartbeat_timeout of the cluster (scripts/cluster_env.py)
HEARTBEAT_TIMEOUT = 40


def test_worker_killed_mid_call_task_retried_elsewhere_with_the_same_request_id(cluster):
    run = cluster.trigger(CALLS, {"n": 1, "seconds": "20"})
    rid = stable_request_id(CALLS, run, "call", 0)

    def running():
        ti = cluster.ti(CALLS, run, "call", 0)
        return ti if ti and ti["state"] == "running" and ti["hostname"] in WORKERS else None

    first = wait_for(running, 240, "the call running on a worker")
    # the plugin has the call: it sleeps 20 s in the sandbox
    wait_for(
        lambda: [a for a in cluster.sandbox("GET", "/sandbox/answers", params={"request_id": rid})] or None,
        60,
        "the call in the sandbox",
        every=0.2,
    )
    victim = first["hostname"].removeprefix("cluster-")
    killed_at = time.monotonic()
    cluster.kill(victim)
    try:
        cluster.wait_run(CALLS, run, timeout=HEARTBEAT_TIMEOUT + 240)
        recovered = time.monotonic() - killed_at
        ti = cluster.ti(CALLS, run, "call", 0)
        assert ti["try_number"] == 2, ti
        assert ti["hostname"] in WORKERS - {first["hostname"]}, ti
        # failed by the heartbeat timeout, not by a human or a task timeout; then retried at once
        assert recovered < HEARTBEAT_TIMEOUT + 90, f"recovered {recovered:.0f}s after the kill"
        # the retry sent the first try's requestId; the sandbox answered it from its record
        calls = cluster.sandbox("GET", "/sandbox/calls", params={"request_id": rid})
        assert [c["replayed"] for c in calls] == [False, True], calls
        (record,) = cluster.sandbox("GET", "/sandbox/answers", params={"request_id": rid})
        assert (record["state"], record["replays"]) == ("done", 1)
        print(f"worker {victim} killed: task back and done {recovered:.1f}s later")
    finally:
        cluster.start(victim)


def test_scheduler_killed_mid_run_the_run_finishes(cluster):
    run = cluster.trigger(CALLS, {"n": 6, "seconds": "3"})
    wait_for(
        lambda: (
            any(s in ("running", "success") for k, s in cluster.states(CALLS, run).items() if k.startswith("call["))
            or None
        ),
        240,
        "the run under way",
    )
    assert cluster.kill("scheduler") >= 1
    cluster.start("scheduler")
    cluster.wait_run(CALLS, run, timeout=300)
    assert all(s == "success" for s in cluster.states(CALLS, run).values())


def test_redis_stopped_for_10s_queued_tasks_run_after(cluster):
    before = cluster.trigger(CALLS, {"n": 4, "seconds": "2"})
    wait_for(lambda: cluster.states(CALLS, before) or None, 120, "the first run's tasks")
    cluster.kill("redis", signal.SIGTERM)  # Redis writes its append-only file as it stops
    stopped = time.monotonic()
    during = cluster.trigger(CALLS, {"n": 4, "seconds": "0"})
    # the outage lasts 10 s; meanwhile nothing of the second run can have finished
    while time.monotonic() - stopped < 10:
        assert not [k for k, s in cluster.states(CALLS, during).items() if k.startswith("call[") and s == "success"]
        time.sleep(1)
    cluster.start("redis")
    for run in (before, during):
        cluster.wait_run(CALLS, run, timeout=300)
