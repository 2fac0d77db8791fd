"""One rollout per app at a time: the app's rollout lock in the real sandbox CMDB, taken by the first
task (airflow_wecube.orchestrations.rollout_steps.start_run) and given back at the run's end."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from airflow_wecube.hooks.plugin import WeCubePluginHook
from airflow_wecube.orchestrations import rollout_lock, rollout_steps
from airflow_wecube.remediation import cmdb
from tests.fixtures.task_instance import FakeTI
from tests.integration.sandbox.helpers import one, query_ci, uniq

pytestmark = pytest.mark.integration

SPECS = Path(__file__).resolve().parents[3] / "dags" / "capacity"


@pytest.fixture(autouse=True)
def specs(monkeypatch):
    monkeypatch.setenv("WECUBE_CAPACITY_SPECS", str(SPECS))


def params(app: str, version: str = "1.0.0") -> dict:
    return {
        "app": app,
        "version": version,
        "host_count": 1,
        "subnet": "sn",
        "capacity_spec": "account_service",
        "scrape_interval": 5,
        "probe": True,
    }


def start(ti: FakeTI, app: str, version: str = "1.0.0", now: float = 1000.0) -> list:
    p = params(app, version)
    return rollout_steps.start_run(ti, p, {}, p, hook=WeCubePluginHook(), steps=8, hold_intervals=4, now=now)


def test_a_second_run_of_the_app_is_refused_while_the_first_runs(wecube_conn, plugin_registry, sandbox):
    app = uniq("lock-app")
    first = FakeTI(run_id="manual__first", runs={"wecube_app_rollout/manual__first": "running"})
    assert start(first, app) == [{"callbackParameter": f"{app}-1", "name": f"{app}-1", "subnet": "sn"}]
    second = FakeTI(run_id="manual__second", runs={"wecube_app_rollout/manual__first": "running"})
    with pytest.raises(rollout_steps.RunRefused) as e:
        start(second, app, "2.0.0")
    assert str(e.value) == (
        f"another rollout of {app} is in progress: wecube_app_rollout/manual__first of version 1.0.0, since "
        "1970-01-01 00:16:40 UTC; one rollout per app at a time, this run changed nothing: trigger it again "
        "once that run ended"
    )
    assert not [c for c in sandbox.calls() if c["path"].startswith("/host/") and app in str(c["inputs"])]
    # another app is not held up; a retry of the first task keeps the lock
    start(FakeTI(run_id="manual__other"), uniq("lock-other"))
    start(first, app)

    # the second run's end does not give back a lock it never held; the first's does
    assert rollout_steps.end_run(second, params(app), hook=WeCubePluginHook()) is False
    assert rollout_steps.end_run(first, params(app), hook=WeCubePluginHook()) is True
    [ci] = query_ci(sandbox, rollout_lock.LOCK_CI, app)
    assert "holder" not in ci["attributes"] and "version" not in ci["attributes"]
    start(second, app, "2.0.0")  # free again


def test_a_lock_whose_run_ended_or_outlived_its_ttl_is_taken_over(wecube_conn, plugin_registry):
    app = uniq("lock-stale")
    start(FakeTI(run_id="manual__gone"), app)  # then killed: its run is not known any more
    start(FakeTI(run_id="manual__next"), app)
    old = FakeTI(run_id="manual__old", runs={"wecube_app_rollout/manual__next": "running"})
    with pytest.raises(rollout_steps.RunRefused, match="manual__next"):
        start(old, app, now=2000.0)
    start(old, app, now=1000.0 + rollout_lock.LOCK_TTL + 1)  # the live run's lock is older than the ttl


def test_an_unreachable_cmdb_refuses_the_run(unreachable_wecube_conn, plugin_registry):
    with pytest.raises(rollout_steps.RunRefused, match="could not read the rollout lock of lock-x from the CMDB"):
        start(FakeTI(), "lock-x")
    assert rollout_steps.end_run(FakeTI(), params("lock-x"), hook=WeCubePluginHook()) is False


def test_no_rollout_starts_while_a_runbook_acts_on_the_app(wecube_conn, plugin_registry, sandbox):
    hook, app, runbook = WeCubePluginHook(), uniq("lock-rb"), "wecube_remediate_instance/manual__rb"
    app_ci = one(sandbox, "/cmdb/v1/ci/create", type="app", name=app)
    one(sandbox, "/cmdb/v1/ci/update", guid=app_ci["guid"], attributes={"instances": [{"host": f"{app}-1"}]})
    record = cmdb.record(hook, f"{app}@{app}-1", app=app, host=f"{app}-1")
    assert cmdb.claim(hook, record, runbook, now=time.time(), ttl=600, running=lambda h: True)[0]

    ti = FakeTI(run_id="manual__roll", runs={runbook: "running"})
    with pytest.raises(rollout_steps.RunRefused) as e:
        start(ti, app, now=time.time())
    assert str(e.value) == (
        f"a runbook is acting on {app} now: {runbook} on {app}@{app}-1; a rollout would deploy under it, "
        "this run changed nothing: trigger it again once that run ended"
    )
    [lock] = query_ci(sandbox, rollout_lock.LOCK_CI, app)
    assert "holder" not in lock["attributes"]  # given back at once: the runbook is not held back by it
    assert not [c for c in sandbox.calls() if c["path"].startswith("/host/") and app in str(c["inputs"])]

    # once the runbook gave its lock back (or its run ended), the rollout starts
    assert cmdb.release(hook, record["guid"], runbook)
    start(ti, app, now=time.time())
    [lock] = query_ci(sandbox, rollout_lock.LOCK_CI, app)
    assert lock["attributes"]["holder"] == "wecube_app_rollout/manual__roll"
