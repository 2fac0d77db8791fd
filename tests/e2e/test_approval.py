"""ApprovalSensor end to end under a real ``airflow standalone``, answered through Airflow's REST API.

Scenarios are grouped so their runs proceed concurrently: the timeout DAG is triggered first (it
needs ~15 s of waiting) and the other runs are driven while it waits.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from airflow_wecube.util.airflow_api import AirflowAPIError

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

DAGS = Path(__file__).parent / "dags"
FILE = DAGS / "wecube_approval_e2e.py"
WECUBE = str(Path(sys.executable).parent / "wecube")
BASIC, TIMEOUTS, FOUR, ANY, INSTANT, INSTANT_FOUR = (
    "wecube_approval_basic",
    "wecube_approval_timeouts",
    "wecube_approval_four_eyes",
    "wecube_approval_reject_skip",
    "wecube_approval_instant",
    "wecube_approval_instant_four_eyes",
)


@pytest.fixture(scope="module")
def sa(standalone):
    standalone.add_dags([FILE])
    for dag_id in (TIMEOUTS, BASIC, FOUR, ANY, INSTANT, INSTANT_FOUR):
        standalone.wait_for_dag(dag_id)
    return standalone


@pytest.fixture(scope="module")
def timeout_run(sa):
    """Started before the other scenarios so its 12 s deadlines pass while they run."""
    return sa.trigger(TIMEOUTS)["dag_run_id"]


# Answers are given the moment the task parks (no pause for the scheduler): Airflow 3.3.2 fails a task
# resumed before it has seen the parking worker exit, which our middleware prevents (docs/approvals.md).


def _wait_open(sa, dag_id, run_id, task_id="gate", timeout=90):
    """Wait until the task is parked AND its request has no response (i.e. (re-)opened)."""

    def check():
        ti = sa.client().get_task_instance(dag_id, run_id, task_id)
        if ti["state"] in ("success", "failed", "skipped", "upstream_failed"):
            raise AssertionError(
                f"{task_id} finished as {ti['state']} while waiting for an open request\n"
                + sa.task_log(dag_id, run_id, task_id)
            )
        if ti["state"] != "awaiting_input":
            return None
        d = sa.client().get_hitl_detail(dag_id, run_id, task_id)
        return d if not d["response_received"] else None

    return sa.wait_for(check, timeout, f"{dag_id}/{run_id}/{task_id} open for an answer")


def _status(sa, dag_id, run_id, task_id="gate"):
    return sa.client().xcom(dag_id, run_id, task_id, key="approval_status")


def _notes(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _answer_at_once(sa, dag_id, run_id, user, option="Approve", params=None, timeout=120):
    """Answer the request the moment it is seen open (polled every 0.3 s, as a bot would); returns the TI state then."""
    client = sa.client(user)
    deadline = time.monotonic() + timeout
    checked = 0.0
    while time.monotonic() < deadline:
        time.sleep(0.3)
        try:
            detail = client.get_hitl_detail(dag_id, run_id, "gate")
        except AirflowAPIError as e:
            if e.status != 404:
                raise
            detail = None
        if (detail is None or detail["response_received"]) and time.monotonic() - checked > 3:
            checked = time.monotonic()
            state = sa.ti_state(dag_id, run_id, "gate")
            if state in ("success", "failed", "skipped", "upstream_failed"):
                mismatch = [
                    line
                    for line in sa.log_path.read_text(errors="replace").splitlines()
                    if run_id in line and "state attribute is" in line
                ]
                raise AssertionError(
                    f"{dag_id}/{run_id}: gate {state} while waiting to answer\n"
                    + "\n".join(mismatch[-2:])
                    + "\n"
                    + sa.task_log(dag_id, run_id, "gate")
                )
        if detail is None or detail["response_received"]:
            continue
        try:
            client.respond(dag_id, run_id, "gate", option, params)
        except AirflowAPIError as e:
            if e.status == 409:  # answered between our look and our answer: not ours to count
                continue
            raise
        return sa.ti_state(dag_id, run_id, "gate")
    raise AssertionError(f"{dag_id}/{run_id}: no open request to answer within {timeout}s")


def test_approve_by_approver_runs_downstream(sa, timeout_run, tmp_path):
    notify = tmp_path / "notify.jsonl"
    run_id = sa.trigger(BASIC, conf={"notify_file": str(notify)})["dag_run_id"]
    detail = _wait_open(sa, BASIC, run_id)

    # the request carries its evidence (rendered from upstream XCom) and priority
    assert detail["subject"] == "[HIGH] Restart nginx on 2 hosts"
    assert '"restart nginx"' in detail["body"] and "**Priority:** high" in detail["body"]
    assert {u["id"] for u in detail["assigned_users"]} == {"alice", "bob"}
    assert set(detail["params"]) == {"ticket", "comment"}
    assert sa.ti_state(BASIC, run_id, "risky") in (None, "none", "scheduled")

    # a non-approver is refused by Airflow and the request stays open
    with pytest.raises(AirflowAPIError) as e:
        sa.client("carol").respond(BASIC, run_id, "gate", "Approve", {"ticket": "CHG-1"})
    assert e.value.status == 403
    assert sa.ti_state(BASIC, run_id, "gate") == "awaiting_input"

    # the notifier got a link to the request's page
    sa.wait_for(lambda: _notes(notify), 10, "notification")
    note = _notes(notify)[0]
    assert note["task"] == "gate" and note["url"].startswith(sa.url)
    assert f"/dags/{BASIC}/runs/{run_id}/tasks/gate/required_actions" in note["url"]

    sa.client("alice").respond(BASIC, run_id, "gate", "Approve", {"ticket": "CHG-1", "comment": "looks fine"})
    # a second answer to the same request is refused (409)
    with pytest.raises(AirflowAPIError) as e:
        sa.client("bob").respond(BASIC, run_id, "gate", "Reject", {"comment": "late"})
    assert e.value.status == 409

    sa.wait_for_run_state(BASIC, run_id, "success")
    record = sa.client().xcom(BASIC, run_id, "gate")
    assert record["decision"] == "approved"
    assert [(a["by"], a["comment"]) for a in record["approvers"]] == [("alice", "looks fine")]
    assert record["form"]["ticket"] == "CHG-1"
    assert sa.client().xcom(BASIC, run_id, "risky") == "ran after approved"


def test_invalid_form_does_not_count_then_reject_fails_task(sa, timeout_run):
    run_id = sa.trigger(BASIC)["dag_run_id"]
    _wait_open(sa, BASIC, run_id)
    # an approval without the required change ticket is void: the request re-opens
    sa.client("bob").respond(BASIC, run_id, "gate", "Approve", {"comment": "no ticket"})
    _wait_open(sa, BASIC, run_id)
    status = _status(sa, BASIC, run_id)
    assert status["round"] == 2 and "ticket: required field is missing" in status["reason"]

    sa.client("bob").respond(BASIC, run_id, "gate", "Reject", {"comment": "not during peak hours"})
    sa.wait_for_run_state(BASIC, run_id, "failed")
    tis = sa.client().task_instances(BASIC, run_id)
    assert tis["gate"]["state"] == "failed"
    assert tis["risky"]["state"] == "upstream_failed"  # nothing risky ran
    log = sa.task_log(BASIC, run_id, "gate", chars=20000)
    assert "Rejected by bob: not during peak hours" in log
    record = sa.client().xcom(BASIC, run_id, "gate", key="decision")
    assert record["decision"] == "rejected" and record["approvers"][0]["by"] == "bob"


def test_four_eyes_and_requester_cannot_approve(sa, timeout_run):
    run_id = sa.trigger(FOUR, conf={"plan": "p1"}, user="admin")["dag_run_id"]
    detail = _wait_open(sa, FOUR, run_id)
    # the requester (admin) is not even assigned: Airflow refuses them
    assert {u["id"] for u in detail["assigned_users"]} == {"alice", "bob", "carol"}
    with pytest.raises(AirflowAPIError) as e:
        sa.client("admin").respond(FOUR, run_id, "gate", "Approve")
    assert e.value.status == 403

    sa.client("alice").respond(FOUR, run_id, "gate", "Approve", {"comment": "first"})
    _wait_open(sa, FOUR, run_id)  # one approval is not enough: re-opened
    assert _status(sa, FOUR, run_id)["approvals"] == ["alice"]
    sa.client("alice").respond(FOUR, run_id, "gate", "Approve", {"comment": "again"})
    _wait_open(sa, FOUR, run_id)  # the same person twice counts once
    status = _status(sa, FOUR, run_id)
    assert status["approvals"] == ["alice"] and "counts once" in status["reason"]
    assert sa.ti_state(FOUR, run_id, "after") in (None, "none", "scheduled")

    sa.client("bob").respond(FOUR, run_id, "gate", "Approve", {"comment": "second"})
    sa.wait_for_run_state(FOUR, run_id, "success")
    record = sa.client().xcom(FOUR, run_id, "gate")
    assert [a["by"] for a in record["approvers"]] == ["alice", "bob"]
    assert any("counts once" in i["reason"] for i in record["ignored"])


def test_evidence_changed_after_approval_waits_again(sa, timeout_run, tmp_path):
    notify = tmp_path / "notify.jsonl"
    client = sa.client()
    client.set_variable("wecube_plan_p2", "v1")
    run_id = sa.trigger(FOUR, conf={"plan": "p2", "notify_file": str(notify)}, user="carol")["dag_run_id"]
    _wait_open(sa, FOUR, run_id)
    first = _status(sa, FOUR, run_id)
    sa.client("alice").respond(FOUR, run_id, "gate", "Approve")
    _wait_open(sa, FOUR, run_id)
    client.set_variable("wecube_plan_p2", "v2")  # the plan changes before the second approval
    sa.client("bob").respond(FOUR, run_id, "gate", "Approve")
    _wait_open(sa, FOUR, run_id)
    status = _status(sa, FOUR, run_id)
    assert "evidence changed" in status["reason"] and status["approvals"] == []
    assert status["evidence"] != first["evidence"]
    assert any("evidence changed" in (n.get("reason") or "") for n in _notes(notify))

    sa.client("alice").respond(FOUR, run_id, "gate", "Approve")
    _wait_open(sa, FOUR, run_id)
    sa.client("bob").respond(FOUR, run_id, "gate", "Approve")
    sa.wait_for_run_state(FOUR, run_id, "success")
    record = client.xcom(FOUR, run_id, "gate")
    assert record["evidence"] == status["evidence"]
    assert sum("evidence changed" in i["reason"] for i in record["ignored"]) == 2


def test_requester_approval_ignored_and_reject_skips(sa, timeout_run):
    client = sa.client()
    ok = sa.trigger(ANY, user="admin")["dag_run_id"]
    skip = sa.trigger(ANY, user="admin")["dag_run_id"]
    _wait_open(sa, ANY, ok)
    _wait_open(sa, ANY, skip)
    assert sa.client().get_hitl_detail(ANY, ok, "gate")["assigned_users"] == []
    sa.client("admin").respond(ANY, ok, "gate", "Approve")  # allowed by Airflow, not counted by us
    _wait_open(sa, ANY, ok)
    assert "may not approve" in _status(sa, ANY, ok)["reason"]
    sa.client("carol").respond(ANY, ok, "gate", "Approve")
    sa.client("bob").respond(ANY, skip, "gate", "Reject", {"comment": "no"})
    sa.wait_for_run_state(ANY, ok, "success")
    sa.wait_for_run_state(ANY, skip, "success")  # skipped tasks leave the run successful
    tis = client.task_instances(ANY, skip)
    assert tis["gate"]["state"] == "skipped" and tis["after"]["state"] == "skipped"


def test_approvals_list_cli(sa, timeout_run):
    run_id = sa.trigger(BASIC)["dag_run_id"]
    _wait_open(sa, BASIC, run_id)
    env = {
        "WECUBE_AIRFLOW_URL": sa.url,
        "WECUBE_AIRFLOW_USER": "alice",
        "WECUBE_AIRFLOW_PASSWORD": sa.password("alice"),
        "PATH": str(Path(sys.executable).parent),
    }
    out = subprocess.run([WECUBE, "approvals", "list", "--json"], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    mine = [r for r in rows if r["run_id"] == run_id]
    assert mine and mine[0]["priority"] == "high" and mine[0]["approvers"] == ["alice", "bob"]
    prio = [r["priority"] for r in rows]
    assert prio == sorted(prio, key=["high", "medium", "low"].index)
    for a, b in zip(rows, rows[1:], strict=False):
        if a["priority"] == b["priority"]:
            assert a["created_at"] <= b["created_at"]
    table = subprocess.run([WECUBE, "approvals", "list"], env=env, capture_output=True, text=True, timeout=60)
    assert table.returncode == 0 and "Restart nginx on 2 hosts" in table.stdout
    sa.client("alice").respond(BASIC, run_id, "gate", "Reject", {"comment": "cleanup"})


def test_timeouts_follow_on_timeout(sa, timeout_run):
    sa.wait_for_run_state(TIMEOUTS, timeout_run, "failed", timeout=120)
    tis = {k: v["state"] for k, v in sa.client().task_instances(TIMEOUTS, timeout_run).items()}
    assert tis["on_timeout_fail"] == "failed" and tis["after_on_timeout_fail"] == "upstream_failed"
    assert tis["on_timeout_fail_soft"] == "skipped" and tis["after_on_timeout_fail_soft"] == "skipped"
    assert tis["on_timeout_reject"] == "failed" and tis["after_on_timeout_reject"] == "upstream_failed"
    assert tis["on_timeout_approve"] == "success" and tis["after_on_timeout_approve"] == "success"
    record = sa.client().xcom(TIMEOUTS, timeout_run, "on_timeout_approve")
    assert record["decision"] == "approved" and record["timed_out"] is True and record["approvers"] == []
    assert "Rejected by timeout" in sa.task_log(TIMEOUTS, timeout_run, "on_timeout_reject", chars=20000)


def test_answers_at_once_resume_the_run(sa):
    """A bot answering the moment each request appears: every run still succeeds (Airflow 3.3.2 alone
    fails them: the stale executor-event race, docs/approvals.md). Last in the file only because a
    fresh standalone on a loaded machine sometimes stalls its API server for ~30 s on its first tasks."""
    runs = []
    for _ in range(3):
        run_id = sa.trigger(INSTANT)["dag_run_id"]
        _answer_at_once(sa, INSTANT, run_id, "alice", params={"comment": "auto"})
        runs.append((INSTANT, run_id, ["alice"]))
    run_id = sa.trigger(INSTANT_FOUR)["dag_run_id"]
    _answer_at_once(sa, INSTANT_FOUR, run_id, "alice")
    _answer_at_once(sa, INSTANT_FOUR, run_id, "bob")  # the moment the request re-opens
    runs.append((INSTANT_FOUR, run_id, ["alice", "bob"]))
    for dag_id, run_id, approvers in runs:
        sa.wait_for_run_state(dag_id, run_id, "success")
        record = sa.client().xcom(dag_id, run_id, "gate")
        assert record["decision"] == "approved" and [a["by"] for a in record["approvers"]] == approvers
        assert sa.client().xcom(dag_id, run_id, "after") == "ran after approved"
