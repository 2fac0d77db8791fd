"""The runbook's steps against the real sandbox: the instance found in the CMDB, the per-target lock
(a real compare-and-set, raced from threads), the redeploy of a killed process, the history that makes
the next alert a duplicate or a cooldown, and a destroyed host that cannot be fixed."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from airflow_wecube.hooks.plugin import WeCubePluginHook
from airflow_wecube.orchestrations import rollout_lock
from airflow_wecube.orchestrations.rollout import app_attributes
from airflow_wecube.orchestrations.runbook_tasks import rollout_check
from airflow_wecube.remediation import cmdb, instance
from airflow_wecube.remediation.alerts import Alert
from airflow_wecube.remediation.guard import ACT, BUSY, COOLDOWN, DUPLICATE, ROLLOUT, UNKNOWN, Policy
from airflow_wecube.remediation.report import escalation_reasons
from tests.integration.sandbox.helpers import one, outputs, query_ci, uniq

pytestmark = pytest.mark.integration

POLICY = Policy(cooldown=300)
ME, OTHER = "wecube_remediate_instance/run-1", "wecube_remediate_instance/run-2"


def alive(holder: str) -> bool:
    return True


@pytest.fixture
def deployed(sandbox, wecube_conn, plugin_registry):
    """An app on one host, recorded in the CMDB as the rollout records it."""
    vpc = one(sandbox, "/network/v1/vpc/create", name=uniq("vpc"), cidr="10.92.0.0/16", data_center="dc-remediate")
    subnet = one(sandbox, "/network/v1/subnet/create", name=uniq("sn"), vpc=vpc["guid"], zone="a", prefix_length=24)
    host = one(sandbox, "/host/v1/host/create", name=uniq("rm-host"), subnet=subnet["guid"])
    app = uniq("rm-app")
    out = one(sandbox, "/deploy/v1/app/deploy", host=host["guid"], app=app, version="1.2.3", rate=1)
    attrs = app_attributes({"app": app, "version": "1.2.3"}, [out], [out["target"]], {}, "manual__rollout")
    ci = one(sandbox, "/cmdb/v1/ci/create", type="app", name=app)
    one(sandbox, "/cmdb/v1/ci/update", guid=ci["guid"], attributes=attrs)
    yield {"app": app, "host": host, "out": out}
    outputs(sandbox.post("/host/v1/host/destroy", [{"callbackParameter": "h", "host": host["guid"]}]))


def firing(d, starts="2026-12-01T20:00:00Z", status="firing") -> Alert:
    labels = {"alertname": "AccountServiceDown", "app": d["app"], "instance": d["out"]["target"], "job": "j"}
    return Alert(status=status, labels=labels, fingerprint="fp-" + d["app"], starts_at=starts)


def test_a_killed_instance_is_redeployed_and_the_history_guards_the_next_alerts(sandbox, deployed):
    hook = WeCubePluginHook()
    os.kill(int(deployed["out"]["pid"]), signal.SIGKILL)
    now = time.time()
    [entry] = instance.triage([firing(deployed)], hook=hook, now=now, mode="on", policy=POLICY, me=ME, running=alive)
    assert entry["decision"] == ACT and entry["target"] == f"{deployed['app']}@{deployed['host']['name']}"
    assert (entry["host"], entry["version"]) == (deployed["host"]["name"], "1.2.3")

    [claimed] = instance.claim([entry], hook=hook, now=now, policy=POLICY, me=ME, running=alive, mode="on")
    assert claimed["decision"] == ACT and claimed["locked"]
    # another run triaging the same target now is told it is busy
    [other] = instance.triage(
        [firing(deployed, starts="x")], hook=hook, now=now, mode="on", policy=POLICY, me=OTHER, running=alive
    )
    assert other["decision"] == BUSY and ME in other["reason"]

    [done] = instance.redeploy([claimed], hook=hook, request_id=uniq("req"), clock=time.time)
    assert done["deployed"] and done["pid"] and done["pid"] != deployed["out"]["pid"]
    (ci,) = query_ci(sandbox, "app_instance", entry["target"])
    assert ci["attributes"]["status"] == "running" and ci["attributes"]["version"] == "1.2.3"
    assert instance.gate_promql([done]) == (
        f'up{{job=~"j", instance=~"{deployed["out"]["target"].replace(".", chr(92) * 2 + ".")}"}}',
        1,
    )

    [judged] = instance.judge([done], {deployed["out"]["target"]: True}, now=now + 2)
    assert judged["outcome"] == "fixed" and judged["seconds_to_up"] == 2.0
    entries, problems = instance.record([judged], hook=hook, me=ME, now=now + 2)
    assert problems == []
    (record,) = query_ci(sandbox, "remediation", entry["target"])
    assert "holder" not in record["attributes"]
    [kept] = record["attributes"]["attempts"]
    assert kept["run"] == ME and kept["decision"] == ACT and kept["outcome"] == "fixed"
    assert kept["alert"] == firing(deployed).key

    # the same alert delivered again: a duplicate; a new crash inside the cooldown: not acted on again
    [dup] = instance.triage(
        [firing(deployed)], hook=hook, now=now + 5, mode="on", policy=POLICY, me=OTHER, running=alive
    )
    assert dup["decision"] == DUPLICATE
    again = firing(deployed, starts="2026-12-01T20:05:00Z")
    [cool] = instance.triage([again], hook=hook, now=now + 60, mode="on", policy=POLICY, me=OTHER, running=alive)
    assert cool["decision"] == COOLDOWN and [a["run"] for a in cool["history"]] == [ME]


def test_two_runs_racing_for_one_target_one_wins(sandbox, deployed):
    hook = WeCubePluginHook()
    [entry] = instance.triage(
        [firing(deployed)], hook=hook, now=time.time(), mode="on", policy=POLICY, me=ME, running=alive
    )
    results: dict[str, list] = {}
    barrier = threading.Barrier(4)

    def race(me: str) -> None:
        barrier.wait()
        ci = {"guid": entry["ci"], "attributes": {}}
        results[me] = cmdb.claim(WeCubePluginHook(), ci, me, now=time.time(), ttl=60, running=alive)

    threads = [threading.Thread(target=race, args=(f"dag/run-{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    winners = [me for me, (taken, _, _) in results.items() if taken]
    assert len(results) == 4 and len(winners) == 1
    assert {holder for taken, holder, _ in results.values() if not taken} == set(winners)
    # the winner gives it back; a lock whose run ended is taken over
    assert cmdb.release(hook, entry["ci"], winners[0]) and not cmdb.release(hook, entry["ci"], winners[0])
    ci = {"guid": entry["ci"], "attributes": {}}
    assert cmdb.claim(hook, ci, "dag/a", now=time.time(), ttl=60, running=alive)[0]
    assert cmdb.claim(hook, ci, "dag/b", now=time.time(), ttl=60, running=lambda h: False)[0]


def test_a_rollout_of_the_app_holds_the_runbook_back_and_asks_a_person(sandbox, deployed):
    hook, app, runs = WeCubePluginHook(), deployed["app"], {"wecube_app_rollout/manual__r": True}

    def running(holder: str) -> bool:
        return runs.get(holder, True)

    def triage(me: str = ME) -> dict:
        [entry] = instance.triage(
            [firing(deployed)],
            hook=hook,
            now=time.time(),
            mode="on",
            policy=POLICY,
            me=me,
            running=running,
            rollout=rollout_check(hook, running),
        )
        return entry

    rollout_lock.claim(hook, app, "wecube_app_rollout/manual__r", version="1.3.0", now=time.time(), running=running)
    held = triage()
    assert held["decision"] == ROLLOUT and "wecube_app_rollout/manual__r of version 1.3.0" in held["reason"]
    [reason] = escalation_reasons([held])
    assert "rollout: a rollout of" in reason and "acting now would change what it deploys" in reason

    # a rollout that starts between triage and claim: the claim decides again and gives the target back
    rollout_lock.release(hook, app, "wecube_app_rollout/manual__r")
    entry = triage()
    assert entry["decision"] == ACT
    rollout_lock.claim(hook, app, "wecube_app_rollout/manual__s", version="1.4.0", now=time.time(), running=running)
    [claimed] = instance.claim(
        [entry],
        hook=hook,
        now=time.time(),
        policy=POLICY,
        me=ME,
        running=running,
        mode="on",
        rollout=rollout_check(hook, running),
    )
    assert claimed["decision"] == ROLLOUT and "manual__s of version 1.4.0" in claimed["reason"]
    assert not claimed.get("locked")
    (record,) = query_ci(sandbox, "remediation", entry["target"])
    assert "holder" not in record["attributes"]  # the target's lock was given back

    # a rollout whose run ended (killed, failed) holds nothing back
    runs["wecube_app_rollout/manual__s"] = False
    assert triage(OTHER)["decision"] == ACT


def test_a_destroyed_host_cannot_be_fixed_and_says_why(sandbox, deployed):
    hook = WeCubePluginHook()
    outputs(sandbox.post("/host/v1/host/destroy", [{"callbackParameter": "h", "host": deployed["host"]["guid"]}]))
    [entry] = instance.triage(
        [firing(deployed)], hook=hook, now=time.time(), mode="on", policy=POLICY, me=ME, running=alive
    )
    [claimed] = instance.claim([entry], hook=hook, now=time.time(), policy=POLICY, me=ME, running=alive, mode="on")
    [done] = instance.redeploy([claimed], hook=hook, request_id=uniq("req"), clock=time.time)
    assert not done["deployed"] and done["error"].startswith("redeploy failed: ")
    assert deployed["host"]["name"] in done["error"]
    [judged] = instance.judge([done], {}, now=time.time())
    assert judged["outcome"] == "failed"


def test_an_instance_the_cmdb_does_not_know_is_left_to_a_person(sandbox, deployed):
    labels = {"alertname": "AccountServiceDown", "app": deployed["app"], "instance": "127.0.0.1:1", "job": "j"}
    stray = Alert(status="firing", labels=labels, fingerprint="fp", starts_at="s")
    [entry] = instance.triage(
        [stray], hook=WeCubePluginHook(), now=time.time(), mode="on", policy=POLICY, me=ME, running=alive
    )
    assert entry["decision"] == UNKNOWN and entry["target"] is None


def test_approve_mode_without_an_approval_acts_on_nothing(sandbox, deployed):
    hook = WeCubePluginHook()
    now = time.time()
    alert = firing(deployed)
    [entry] = instance.triage([alert], hook=hook, now=now, mode="approve", policy=POLICY, me=ME, running=alive)
    assert entry["decision"] == ACT and entry["reason"] == "redeploy, once approved"
    [claimed] = instance.claim(
        [entry], hook=hook, now=now, policy=POLICY, me=ME, running=alive, mode="approve", approval="not approved (bob)"
    )
    assert claimed["decision"] == "rejected" and claimed["reason"] == "not approved (bob)" and not claimed.get("locked")
    (record,) = query_ci(sandbox, "remediation", entry["target"])
    assert "holder" not in record["attributes"]
    [done] = instance.redeploy([claimed], hook=hook, request_id=uniq("req"), clock=time.time)
    assert "deployed" not in done
