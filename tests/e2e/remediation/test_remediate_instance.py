"""The closed loop end to end, Prometheus → Alertmanager → ``POST /wecube/alerts`` → Asset event →
``wecube_remediate_instance``: a crashed account-service instance comes back without anyone touching
Airflow; the same alert recorded twice acts once; a second crash inside the cooldown is not acted on
again but asked of a person; a host that is gone lands in the Required Actions inbox; with the kill
switch ``off`` nothing acts.

The tests run in file order and share the fixture's three hosts: ``acct-fix`` (fixed, then crashed
again inside the cooldown), ``acct-gone`` (destroyed), ``acct-off`` (kill switch).
"""

from __future__ import annotations

import json
import urllib.request

import pytest

from tests.e2e.remediation.conftest import ALERT, RUNBOOK

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]


def health(target: str) -> dict | None:
    try:
        with urllib.request.urlopen(f"http://{target}/health", timeout=3) as r:
            return json.loads(r.read())
    except OSError:
        return None


def crash(loop, host: str) -> dict:
    """The incident: ``deploy/app/crash`` makes the instance's process exit (it stays down)."""
    [inst] = loop.o.cmdb("app_instance", name=f"account-service@{host}")
    [out] = loop.o.plugin("/deploy/v1/app/crash", [{"callbackParameter": host, "host": host, "app": "account-service"}])
    assert out["status"] == "failed", out
    return inst["attributes"]


def answer_escalation(loop, run_id: str, option: str = "Leave it") -> dict:
    """The high-priority request in the inbox for this run (checked), answered."""
    detail = loop.o.wait_open(RUNBOOK, run_id, task_id="escalate")
    assert detail["subject"].startswith("[HIGH] ") and f"Runbook {ALERT} needs a person" in detail["subject"]
    loop.sa.client("alice").respond(RUNBOOK, run_id, "escalate", option, {"comment": "on it"})
    return detail


def test_a_crashed_instance_comes_back_without_anyone_and_the_same_alert_twice_acts_once(loop):
    target = loop.instances["acct-fix"]["target"]
    before = {r["dag_run_id"] for r in loop.runs()}
    crashed = crash(loop, "acct-fix")
    run, entry = loop.firing_run(before, target)
    assert run["run_type"] == "asset_triggered"
    assert entry["alert"]["labels"]["app"] == "account-service" and entry["alert"]["labels"]["severity"] == "critical"
    loop.o.wait_run(RUNBOOK, run["dag_run_id"], "success", timeout=180)

    # up again: the same version, a new process, scraped by Prometheus
    now = health(target)
    assert now and now["version"] == "1.0.0" and now["pid"] != crashed["pid"]
    assert loop.up(target) == "1"
    [done] = [e for e in loop.entries(run["dag_run_id"]) if e["decision"] == "act"]
    assert done["target"] == "account-service@acct-fix" and done["outcome"] == "fixed"
    assert done["action"] == "redeploy account-service 1.0.0 on acct-fix" and done["seconds_to_up"] > 0
    message = loop.message(run["dag_run_id"])
    assert f"{ALERT} firing on {target}: act, redeploy account-service 1.0.0 on acct-fix -> fixed" in message
    # silenced while acting, the silence expired since
    silences = loop.alertmanager.api("silences")
    on_target = {"name": "instance", "value": target, "isRegex": False, "isEqual": True}
    mine = [s for s in silences if on_target in s["matchers"]]
    assert mine and {s["status"]["state"] for s in mine} == {"expired"}

    # the same alert recorded once more (a delivery the webhook's dedupe did not catch): nothing acts
    [event] = [
        e
        for e in loop.events()
        if e["extra"].get("fingerprint") == done["alert"]["fingerprint"]
        and e["extra"].get("status") == "firing"
        and e["extra"].get("startsAt") == done["alert"]["startsAt"]
    ]
    before_dup = {r["dag_run_id"] for r in loop.runs()}
    loop.redeliver(event)
    dup_run, dup = loop.run_for(
        before_dup, lambda e: e["instance"] == target and e["alert"]["startsAt"] == done["alert"]["startsAt"]
    )
    loop.o.wait_run(RUNBOOK, dup_run["dag_run_id"], "success", timeout=120)
    assert dup["decision"] == "duplicate" and run["dag_run_id"] in dup["reason"]
    assert len(loop.deploys("acct-fix")) == 1

    # the CMDB keeps the attempt; the actions page lists the run
    [record] = loop.o.cmdb("remediation", name="account-service@acct-fix")
    assert [a["outcome"] for a in record["attributes"]["attempts"] if a["decision"] == "act"] == ["fixed"]
    assert "holder" not in record["attributes"]
    actions = loop.read(lambda: loop.sa.client().request("GET", "/wecube/api/actions"), "actions")
    [listed] = [a for a in actions["items"] if a["run_id"] == run["dag_run_id"]]
    assert listed["state"] == "success" and listed["message"] == message


def test_a_second_crash_inside_the_cooldown_is_asked_of_a_person(loop):
    target = loop.instances["acct-fix"]["target"]
    [record] = loop.o.cmdb("remediation", name="account-service@acct-fix")
    [fixed] = [a for a in record["attributes"]["attempts"] if a["decision"] == "act"]
    fingerprint, starts = fixed["alert"].rsplit("@", 1)
    loop.resolved({"fingerprint": fingerprint, "startsAt": starts})
    before = {r["dag_run_id"] for r in loop.runs()}
    crash(loop, "acct-fix")
    run, entry = loop.firing_run(before, target)
    assert entry["decision"] == "cooldown"
    detail = answer_escalation(loop, run["dag_run_id"])
    assert "cooldown" in detail["body"] and "not acting again" in detail["body"]
    loop.o.wait_run(RUNBOOK, run["dag_run_id"], "failed", timeout=120)
    assert len(loop.deploys("acct-fix")) == 1  # still the first fix only
    message = loop.message(run["dag_run_id"])
    assert "Escalated to a person" in message and "Answer: alice: Leave it (on it)" in message


def test_a_fix_that_cannot_work_lands_in_the_inbox(loop):
    target = loop.instances["acct-gone"]["target"]
    before = {r["dag_run_id"] for r in loop.runs()}
    loop.o.plugin("/host/v1/host/destroy", [{"callbackParameter": "h", "host": "acct-gone"}])
    run, _ = loop.firing_run(before, target)
    detail = answer_escalation(loop, run["dag_run_id"])
    # evidence: why, the alert, every attempt on the target
    assert "the fix failed: redeploy failed:" in detail["body"] and "acct-gone" in detail["body"]
    assert f"### {ALERT} on {target}" in detail["body"]
    loop.o.wait_run(RUNBOOK, run["dag_run_id"], "failed", timeout=120)
    [entry] = [e for e in loop.entries(run["dag_run_id"]) if e["instance"] == target and e["status"] == "firing"]
    assert entry["decision"] == "act" and entry["outcome"] == "failed" and not entry["deployed"]
    states = loop.o.states(RUNBOOK, run["dag_run_id"])
    assert states["gate_up"] == "skipped" and states["report"] == "failed"


def test_off_acts_on_nothing_and_asks_a_person(loop):
    target = loop.instances["acct-off"]["target"]
    client = loop.sa.client()
    client.set_variable("wecube_auto_remediation", "off")
    try:
        before = {r["dag_run_id"] for r in loop.runs()}
        crash(loop, "acct-off")
        run, entry = loop.firing_run(before, target)
        assert entry["decision"] == "off"
        detail = answer_escalation(loop, run["dag_run_id"])
        assert "automatic remediation is off" in detail["body"]
        loop.o.wait_run(RUNBOOK, run["dag_run_id"], "failed", timeout=120)
    finally:
        client.request("DELETE", "/api/v2/variables/wecube_auto_remediation", expect=(204,))
    assert loop.deploys("acct-off") == [] and health(target) is None
