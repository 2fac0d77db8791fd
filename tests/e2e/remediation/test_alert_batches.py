"""Several alerts in one delivery each reach a run of ``wecube_remediate_instance`` that acts on them.

Alertmanager groups by ``alertname``: instances that go down together arrive in one POST. The webhook
records one Asset event per alert, a few milliseconds apart, and Airflow's scheduler gives the run it
creates only the events up to its queue row's time; so the run used to see the first alert only, the
others waiting for an unrelated later delivery. Here every alert of a delivery is triaged in a run, and
the escalation names every target.

The targets are instances the CMDB does not know (``unknown_target``): each is escalated, which costs
no deploy, so 50 of them are cheap. Two come in one POST as the probe sent them; fifty through the
session's Alertmanager, grouped and delivered by it.
"""

from __future__ import annotations

import json
import time
import urllib.request
from datetime import datetime, timedelta, timezone

import pytest

from tests.e2e.remediation.conftest import ALERT, APP, JOB, RUNBOOK

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]


def labels(instance: str) -> dict[str, str]:
    return {"alertname": ALERT, "instance": instance, "job": JOB, "app": APP, "severity": "critical"}


def iso(t: datetime) -> str:
    return t.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def runs_carrying(loop, before: set[str], instances: set[str], timeout: float = 300) -> dict[str, list[dict]]:
    """The new runs whose triage names any of ``instances``, once together they name every one:
    ``{run_id: entries}``. Fails (showing what each run carried) if one is left out."""
    found: dict[str, list[dict]] = {}

    def check():
        for run in loop.runs():
            rid = run["dag_run_id"]
            if rid in before or rid in found:
                continue
            try:
                triaged = loop.sa.client().xcom(RUNBOOK, rid, "triage", key="triaged")
            except Exception:  # not triaged yet (404) or a slow answer: poll again
                continue
            mine = [e for e in triaged["entries"] if e["instance"] in instances and e["status"] == "firing"]
            if mine:
                found[rid] = mine
        seen = {e["instance"] for entries in found.values() for e in entries}
        return found if seen == instances else None

    try:
        return loop.sa.wait_for(check, timeout, f"runs of {RUNBOOK} carrying all {len(instances)} alerts", interval=1)
    except Exception as e:
        carried = {rid: len(entries) for rid, entries in found.items()}
        raise AssertionError(f"{e}; runs so far carried {carried} of {len(instances)} alerts") from None


def escalated(loop, run_id: str, instances: set[str]) -> str:
    """The run's escalation names each of ``instances``; answered, the run ends failed. Its body."""
    detail = loop.o.wait_open(RUNBOOK, run_id, task_id="escalate", timeout=300)
    assert detail["subject"].startswith("[HIGH] ")
    for instance in instances:
        assert f"### {ALERT} on {instance}\n" in detail["body"], instance
    loop.sa.client("alice").respond(RUNBOOK, run_id, "escalate", "Leave it", {"comment": "batch"})
    loop.o.wait_run(RUNBOOK, run_id, "failed", timeout=240)
    return detail["body"]


def test_two_alerts_in_one_post_reach_one_run_and_both_are_escalated(loop):
    """The probe's case: one POST to the webhook with two alerts of one name."""
    instances = {"10.251.0.1:8080", "10.251.0.2:8080"}
    starts = iso(datetime.now(timezone.utc))
    alerts = [
        {
            "status": "firing",
            "labels": labels(i),
            "annotations": {"summary": f"{i} of account-service is down"},
            "startsAt": starts,
            "endsAt": "0001-01-01T00:00:00Z",
            "fingerprint": f"b{n:015x}",
        }
        for n, i in enumerate(sorted(instances))
    ]
    body = {"version": "4", "status": "firing", "receiver": "wecube", "groupLabels": {"alertname": ALERT}}
    body["alerts"] = alerts
    before = {r["dag_run_id"] for r in loop.runs()}
    request = urllib.request.Request(
        f"{loop.sa.url}/wecube/alerts",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {loop.alertmanager.secret}"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=60) as r:
        answer = json.loads(r.read())
    assert len(answer["recorded"]) == 2, answer
    assert all(RUNBOOK in e["dags"] for e in answer["recorded"]), answer

    carried = runs_carrying(loop, before, instances)
    assert len(carried) == 1, {rid: [e["instance"] for e in es] for rid, es in carried.items()}
    [(run_id, entries)] = carried.items()
    assert {e["decision"] for e in entries} == {"unknown_target"}
    escalated(loop, run_id, instances)


def test_fifty_alerts_delivered_by_alertmanager_are_each_triaged_and_escalated(loop):
    """Fifty instances down at once, sent to the real Alertmanager, which groups them by alertname and
    posts them to the webhook: every target is triaged, and each run's escalation names all of its own."""
    instances = {f"10.252.0.{n}:8080" for n in range(1, 51)}
    now = datetime.now(timezone.utc)
    posted = [
        {
            "labels": labels(i),
            "annotations": {"summary": f"{i} of account-service is down"},
            "startsAt": iso(now),
            "endsAt": iso(now + timedelta(minutes=30)),
        }
        for i in sorted(instances)
    ]
    before = {r["dag_run_id"] for r in loop.runs()}
    loop.alertmanager.api("alerts", posted)
    try:
        carried = runs_carrying(loop, before, instances)
        for run_id, entries in carried.items():
            assert {e["decision"] for e in entries} == {"unknown_target"}, entries
            escalated(loop, run_id, {e["instance"] for e in entries})
        # each alert reached exactly one run (a redelivery of the group is recorded as a duplicate)
        seen = [e["instance"] for entries in carried.values() for e in entries]
        assert sorted(seen) == sorted(instances)
    finally:  # resolve them, so later tests find the group empty
        ended = iso(datetime.now(timezone.utc) - timedelta(seconds=1))
        loop.alertmanager.api("alerts", [{**a, "endsAt": ended} for a in posted])
        _wait_resolved(loop, instances)


def _wait_resolved(loop, instances: set[str], timeout: float = 120) -> None:
    """Until the resolution of each of ``instances`` was delivered (Asset events)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            events = loop.sa.client().asset_events(asset_id=loop.asset_id, limit=1000, order_by="-timestamp")
        except Exception:  # a slow or failing answer: ask again
            events = []
        done = {e["extra"]["labels"]["instance"] for e in events if e["extra"].get("status") == "resolved"}
        if instances <= done:
            return
        time.sleep(1)
