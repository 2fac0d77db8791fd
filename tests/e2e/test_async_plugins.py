"""Asynchronous plugin interfaces end to end: a DAG calls taskman's real ``task/create-custom`` (from
the corpus manifest) on the sandbox's taskman, the task waits deferred until a person answers in the
sandbox inbox, whose callback reaches ``POST /wecube/callback/<token>`` of the real ``airflow standalone``.

The timeout DAG is triggered first so its waits pass while the other scenarios run.
"""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path

import pytest
import requests

from airflow_wecube.exceptions import WeCubeError
from airflow_wecube.util.airflow_api import AirflowAPIError
from tests.e2e.orchestrations.conftest import put_connection

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

DAG_FILE = Path(__file__).parent / "dags" / "wecube_async_e2e.py"
APPROVAL, TIMEOUTS, TWO = "wecube_async_approval", "wecube_async_timeouts", "wecube_async_two"
VERSION = "0.1.0+corpus"
INBOX = "/taskman/inbox/api/tasks"


@pytest.fixture(scope="module")
def sa(standalone, sandbox, wecube_fixtures):
    from airflow_wecube.registry import Registry, load_manifest

    registry = Registry(standalone.env.get("WECUBE_REGISTRY_PATH") or standalone.dags_folder / "wecube_plugins")
    registry.register(load_manifest(wecube_fixtures / "taskman.register.xml", version=VERSION), replace=True)
    put_connection(
        standalone.client(), "wecube_default", {"conn_type": "wecube", "host": sandbox.url, "password": sandbox.token}
    )
    standalone.add_dags([DAG_FILE])
    for dag_id in (TIMEOUTS, APPROVAL, TWO):
        standalone.wait_for_dag(dag_id)
    return standalone


@pytest.fixture(scope="module")
def timeout_run(sa):
    return sa.trigger(TIMEOUTS)["dag_run_id"]


def open_task(sa, sandbox, run_id, timeout=120.0, interval=0.3):
    """The run's open inbox task (found by its procInstId, which the platform filled in)."""

    checked = [0.0]

    def check():
        r = requests.get(
            sandbox.url + INBOX, params={"procInstId": f"{APPROVAL}/{run_id}", "status": "open"}, timeout=10
        )
        r.raise_for_status()
        tasks = r.json()
        if not tasks and time.monotonic() - checked[0] > 5:  # now and then: did the gate end without a task?
            checked[0] = time.monotonic()
            if state(sa, APPROVAL, run_id, "gate") in ("failed", "success", "upstream_failed"):
                raise AssertionError(
                    "gate ended before its task was answered\n" + sa.task_log(APPROVAL, run_id, "gate")
                )
        return tasks[0] if tasks else None

    return sa.wait_for(check, timeout, f"an open inbox task of {run_id}", interval=interval)


def state(sa, dag_id, run_id, task_id):
    """A task instance's state; None when a busy API server answers too slowly (poll again)."""
    try:
        return sa.ti_state(dag_id, run_id, task_id)
    except WeCubeError as e:
        if isinstance(e, AirflowAPIError) and e.status != 404:
            raise
        return None


def wait_run(sa, dag_id, run_id, wanted, timeout=240.0):
    """Wait for the run to end ``wanted``; fail at once, with its task states, if it ends otherwise."""

    def check():
        try:
            run = sa.client().get_run(dag_id, run_id)
        except WeCubeError as e:  # a busy machine: the API server answered too slowly
            if isinstance(e, AirflowAPIError):
                raise
            return None
        if run["state"] == wanted:
            return run
        if run["state"] in ("success", "failed"):
            tis = {k: v["state"] for k, v in sa.client().task_instances(dag_id, run_id).items()}
            raise AssertionError(f"run {dag_id}/{run_id} ended {run['state']}, expected {wanted}: {tis}")
        return None

    return sa.wait_for(check, timeout, f"run {dag_id}/{run_id} to end {wanted}")


def answer(sandbox, task_id, verb, **body):
    r = requests.post(f"{sandbox.url}{INBOX}/{task_id}/{verb}", json=body, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def delivered(sa, sandbox, task_id):
    def check():
        t = requests.get(f"{sandbox.url}{INBOX}/{task_id}", timeout=10).json()
        return t if (t.get("callback") or {}).get("status") == "delivered" else None

    return sa.wait_for(check, 60, f"callback of task {task_id} delivered")


def test_approval_waits_for_the_inbox_then_continues_with_the_comment(sa, sandbox, timeout_run):
    run_id = sa.trigger(APPROVAL)["dag_run_id"]
    task = open_task(sa, sandbox, run_id)
    # the platform filled what the author did not pass; the request offered the default options
    assert task["procInstId"] == f"{APPROVAL}/{run_id}"
    assert task["callbackUrl"].startswith(f"{sa.url}/wecube/callback/") and task["allowedOptions"] == [
        "Approve",
        "Reject",
    ]
    assert task["taskName"] == f"Release {run_id}"
    sa.wait_for(lambda: state(sa, APPROVAL, run_id, "gate") == "deferred", 120, "gate deferred")

    # a forged callback (a token never given out) is refused and changes nothing
    body = {"resultCode": "Approve", "results": {"requestId": task["requestId"], "outputs": []}}
    forged = requests.post(f"{sa.url}/wecube/callback/{secrets.token_urlsafe(32)}", json=body, timeout=30)
    assert forged.status_code == 404 and forged.json()["status"] == "ERROR"
    bad = requests.post(task["callbackUrl"], json={"results": {}}, timeout=30)  # the right URL, a bad body
    assert bad.status_code == 400 and "resultCode" in bad.json()["message"]
    time.sleep(0.5)  # nothing may resume the task: it must still be waiting
    assert state(sa, APPROVAL, run_id, "gate") == "deferred"

    closed = answer(sandbox, task["id"], "complete", option="Approve", comment="ship it", handler="alice")
    assert closed["status"] == "done"
    sent = delivered(sa, sandbox, task["id"])["callback"]["body"]
    # the same callback again (a plugin retrying after a lost answer) is ignored; a different one is refused
    again = requests.post(task["callbackUrl"], json=sent, timeout=30)
    assert again.status_code == 200 and "ignored" in again.json()["message"]
    other = {**json.loads(json.dumps(sent)), "resultCode": "Reject"}
    late = requests.post(task["callbackUrl"], json=other, timeout=30)
    assert late.status_code == 409 and "first callback wins" in late.json()["message"]

    wait_run(sa, APPROVAL, run_id, "success")
    decision = sa.client().xcom(APPROVAL, run_id, "gate")
    assert decision["chosenOption"] == "Approve" and decision["comment"] == "ship it"
    assert sa.client().xcom(APPROVAL, run_id, "gate", key="chosen_option") == "Approve"
    assert sa.client().xcom(APPROVAL, run_id, "after") == "continued after Approve: ship it"
    logged = [line for line in sa.log_path.read_text(errors="replace").splitlines() if "Second callback for" in line]
    assert [
        ("the same body again" in line, "a different one" in line) for line in logged if task["requestId"] in line
    ] == [
        (True, False),
        (False, True),
    ]


def test_reject_fails_the_task_with_the_comment(sa, sandbox, timeout_run):
    run_id = sa.trigger(APPROVAL)["dag_run_id"]
    task = open_task(sa, sandbox, run_id)
    answer(sandbox, task["id"], "reject", comment="not during the freeze", handler="bob")
    wait_run(sa, APPROVAL, run_id, "failed")
    tis = sa.client().task_instances(APPROVAL, run_id)
    assert tis["gate"]["state"] == "failed" and tis["after"]["state"] == "upstream_failed"
    log = sa.task_log(APPROVAL, run_id, "gate", chars=20000)
    assert "rejected (Reject): not during the freeze" in log


def test_instant_callback_resumes_the_task(sa, sandbox, timeout_run):
    """Answered the moment the task appears in the inbox (polled every 0.05 s): the callback usually
    arrives before the task has even deferred; Airflow 3.3.2 would fail a resume that early
    (docs/approvals.md), so the trigger holds it until the park has settled."""
    run_id = sa.trigger(APPROVAL)["dag_run_id"]
    task = open_task(sa, sandbox, run_id, interval=0.05)
    created = task["createdAt"]
    answer(sandbox, task["id"], "complete", option="Approve", comment="instant", handler="bot")
    t = delivered(sa, sandbox, task["id"])
    assert t["closedAt"] >= created
    wait_run(sa, APPROVAL, run_id, "success")
    assert sa.client().xcom(APPROVAL, run_id, "after") == "continued after Approve: instant"


def test_a_retry_sends_again_with_the_same_request_id_and_the_first_url_still_answers(sa, sandbox, timeout_run):
    """A new try (cleared here, as after a lost worker) sends again with the same requestId (and a new URL
    for it); the sandbox, like a plugin should, drops the duplicate and keeps the first try's task and URL.
    The person answers that task, through the first URL, and the second try resumes with the answer."""
    run_id = sa.trigger(APPROVAL)["dag_run_id"]
    first = open_task(sa, sandbox, run_id)
    sa.wait_for(lambda: state(sa, APPROVAL, run_id, "gate") == "deferred", 120, "gate deferred")
    sa.client().request(
        "POST",
        f"/api/v2/dags/{APPROVAL}/clearTaskInstances",
        json={"dag_run_id": run_id, "task_ids": ["gate"], "dry_run": False, "only_failed": False},
    )

    def retry_waiting():
        try:
            ti = sa.client().get_task_instance(APPROVAL, run_id, "gate")
        except WeCubeError as e:
            if isinstance(e, AirflowAPIError):
                raise
            return None
        return ti["try_number"] == 2 and ti["state"] == "deferred"

    sa.wait_for(retry_waiting, 180, "the second try deferred")
    # the second try's own log (the first try's trigger log may be written to later, when it is cancelled);
    # its lines reach the file through the supervisor's log channel, beside the defer: read until there
    sent_again = f"acknowledged requestId {first['requestId']}"
    sa.wait_for(
        lambda: sent_again in sa.task_log(APPROVAL, run_id, "gate", chars=50000, try_number=2),
        30,
        f"{sent_again!r} in the second try's log",
    )
    r = requests.get(sandbox.url + INBOX, params={"procInstId": f"{APPROVAL}/{run_id}", "status": "all"}, timeout=10)
    assert [t["id"] for t in r.json()] == [first["id"]]  # the duplicate request was dropped by requestId
    answer(sandbox, first["id"], "complete", option="Approve", comment="via the first URL", handler="carol")
    wait_run(sa, APPROVAL, run_id, "success")
    assert sa.client().get_task_instance(APPROVAL, run_id, "gate")["try_number"] == 2
    assert sa.client().xcom(APPROVAL, run_id, "gate")["comment"] == "via the first URL"


def test_two_entities_wait_for_both_inbox_tasks_then_continue_with_both_comments(sa, sandbox):
    """taskman opens one inbox task per entity and POSTs one callback per task (same requestId, one
    output each): the task resumes only when both are answered, with both answers."""
    run_id = sa.trigger(TWO)["dag_run_id"]

    def both_open():
        r = requests.get(sandbox.url + INBOX, params={"procInstId": f"{TWO}/{run_id}", "status": "open"}, timeout=10)
        r.raise_for_status()
        return r.json() if len(r.json()) == 2 else None

    tasks = {t["callbackParameter"]: t for t in sa.wait_for(both_open, 120, f"two open inbox tasks of {run_id}")}
    assert sorted(tasks) == ["db", "web"] and tasks["db"]["requestId"] == tasks["web"]["requestId"]
    sa.wait_for(lambda: state(sa, TWO, run_id, "gate") == "deferred", 120, "gate deferred")
    answer(sandbox, tasks["web"]["id"], "complete", option="Approve", comment="web is fine", handler="alice")
    assert delivered(sa, sandbox, tasks["web"]["id"])["callback"]["attempts"] == 1  # taken at once (200)
    assert state(sa, TWO, run_id, "gate") == "deferred"  # were it resumed with one answer, db would fail it
    answer(sandbox, tasks["db"]["id"], "complete", option="Approve", comment="db is fine", handler="bob")
    wait_run(sa, TWO, run_id, "success")
    outputs = sa.client().xcom(TWO, run_id, "gate")
    assert [(o["callbackParameter"], o["comment"]) for o in outputs] == [("web", "web is fine"), ("db", "db is fine")]
    assert sa.client().xcom(TWO, run_id, "gate", key="chosen_option") == {"web": "Approve", "db": "Approve"}
    assert sa.client().xcom(TWO, run_id, "after_both") == "web Approve: web is fine; db Approve: db is fine"


def test_no_callback_times_out_per_policy(sa, timeout_run):
    wait_run(sa, TIMEOUTS, timeout_run, "failed")
    tis = {k: v["state"] for k, v in sa.client().task_instances(TIMEOUTS, timeout_run).items()}
    assert tis == {"on_timeout_fail": "failed", "on_timeout_skip": "skipped", "on_timeout_approve": "success"}
    assert "no callback for requestId" in sa.task_log(TIMEOUTS, timeout_run, "on_timeout_fail", chars=20000)
    approved = sa.client().xcom(TIMEOUTS, timeout_run, "on_timeout_approve")
    assert approved["chosenOption"] == "Approve" and approved["timedOut"] is True
