"""ApprovalSensor logic without a server: parameters, form checks, decision, reject and timeout policies.

The Airflow runtime is reduced to what the sensor touches (a task instance that records XCom and
the HITL request writer); the real machinery is exercised in tests/e2e/test_approval.py.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from airflow.sdk import BaseNotifier, Param
from airflow.sdk.exceptions import AirflowFailException, AirflowSensorTimeout, AirflowSkipException, TaskAwaitingInput

import airflow_wecube.sensors.approval as mod
from airflow_wecube.sensors.approval import ApprovalSensor


class TI:
    def __init__(self):
        self.id = uuid.uuid4()
        self.dag_id, self.run_id, self.task_id, self.map_index = "d", "r", "gate", -1
        self.xcom: dict = {}

    def xcom_push(self, key, value):
        self.xcom[key] = value


def ctx(requester="admin"):
    ti = TI()
    return {"ti": ti, "task_instance": ti, "dag_run": SimpleNamespace(triggering_user_name=requester)}


@pytest.fixture
def requests(monkeypatch):
    """Record HITL requests instead of sending them to a supervisor."""
    calls = []
    monkeypatch.setattr(mod, "upsert_hitl_detail", lambda **kw: calls.append(kw))
    return calls


def answer(by, option="Approve", **form):
    return {
        "chosen_options": [option],
        "params_input": form,
        "responded_at": datetime(2024, 1, 1, tzinfo=timezone.utc),
        "responded_by_user": {"id": by, "name": by},
    }


def state(requester="admin", deadline_in=60, evidence=None, tally=None):
    deadline = datetime.now(timezone.utc) + timedelta(seconds=deadline_in) if deadline_in is not None else None
    return {
        "tally": tally or {},
        "deadline": deadline.isoformat() if deadline else None,
        "evidence": evidence,
        "requester": requester,
        "round": 1,
        "request": {"subject": "[MEDIUM] s", "body": "b", "assignees": None},
    }


def sensor(**kw):
    kw.setdefault("task_id", "gate")
    kw.setdefault("subject", "Deploy")
    return ApprovalSensor(**kw)


# ------------------------------------------------------------------ parameters


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"assigned_users": [{"id": "a", "name": "a"}]}, "use 'approvers'"),
        ({"params": {"x": 1}}, "use 'form'"),
        ({"defaults": "Approve"}, "does not take 'defaults'"),
        ({"subject": " "}, "subject must be"),
        ({"form": ["ticket"]}, "form must be a mapping"),
        ({"form": {"bad name": 1}}, "identifiers"),
        ({"form": {"_options": 1}}, "reserved"),
        ({"evidence": 42}, "evidence must be"),
        ({"priority": "urgent"}, "priority"),
        ({"on_reject": "ignore"}, "on_reject"),
        ({"required_approvals": 2, "approvers": ["alice"]}, "only 1 approvers"),
        ({"on_timeout": "approve", "response_timeout": timedelta(seconds=5), "required_approvals": 2}, "four-eyes"),
    ],
)
def test_bad_parameters_fail_at_parse_time(kwargs, message):
    with pytest.raises(ValueError, match=message):
        sensor(**kwargs)


def test_form_fields_comment_and_required():
    s = sensor(form={"ticket": Param(type="string", minLength=3), "window": "night"})
    assert set(s.params.keys()) == {"ticket", "window", "comment"}
    assert s.required_fields == {"ticket"}
    s.params.validate()  # the empty form must be valid when the task starts
    assert s._check_form({"ticket": "CHG-9"}, strict=True) == (
        {"ticket": "CHG-9", "window": "night", "comment": None},
        None,
    )
    assert s._check_form({}, strict=True)[1] == "ticket: required field is missing"
    assert "too short" in s._check_form({"ticket": "C"}, strict=True)[1]
    assert s._check_form({"nope": 1}, strict=True)[1] == "unknown form fields ['nope']"
    # a rejection keeps what was given, even with the ticket missing
    assert s._check_form({"comment": "no"}, strict=False) == (
        {"ticket": None, "window": "night", "comment": "no"},
        None,
    )


def test_response_timeout_accepts_seconds_and_timedelta():
    assert sensor(response_timeout=30).policy.response_timeout == 30
    assert sensor(response_timeout=timedelta(minutes=1)).response_timeout == timedelta(minutes=1)


# ------------------------------------------------------------------ opening the request


def test_execute_opens_request_without_requester(requests):
    s = sensor(
        subject="Restart",
        body="plan",
        approvers=["admin", "alice", "bob"],
        required_approvals=2,
        requester_cannot_approve=True,
        priority="high",
        response_timeout=120,
    )
    c = ctx("admin")
    with pytest.raises(TaskAwaitingInput) as e:
        s.execute(c)
    [req] = requests
    assert req["subject"] == "[HIGH] Restart"
    assert [u["id"] for u in req["assigned_users"]] == ["alice", "bob"]
    assert "**Priority:** high" in req["body"] and "2 distinct" in req["body"] and req["body"].startswith("plan")
    assert 110 < e.value.timeout.total_seconds() <= 120
    assert e.value.method_name == "execute_complete"
    assert e.value.kwargs["wecube_state"]["requester"] == "admin"
    assert c["ti"].xcom["approval_status"]["open"] is True


def test_never_parks_with_less_than_the_settle_time_left(requests, monkeypatch):
    """Airflow 3.3.2 fails a task its timeout sweep resumes right after the park (airflow_wecube.compat.settle)."""
    monkeypatch.setenv("AIRFLOW__WECUBE__RESUME_SETTLE_SECONDS", "8")
    with pytest.raises(TaskAwaitingInput) as e:
        sensor(response_timeout=3).execute(ctx())
    assert e.value.timeout.total_seconds() == 8
    with pytest.raises(TaskAwaitingInput) as e:
        sensor(response_timeout=60).execute(ctx())
    assert 50 < e.value.timeout.total_seconds() <= 60  # longer deadlines are untouched
    with pytest.raises(TaskAwaitingInput) as e:
        sensor().execute(ctx())
    assert e.value.timeout is None  # no deadline, none made up


def test_execute_refuses_when_requester_leaves_too_few(requests):
    s = sensor(approvers=["admin", "alice"], required_approvals=2, requester_cannot_approve=True)
    with pytest.raises(AirflowFailException, match="only 1 other approvers"):
        s.execute(ctx("admin"))
    assert requests == []  # nothing was asked


def test_notifiers_get_the_reason(requests):
    seen = []

    class Rec(BaseNotifier):
        def notify(self, context):
            seen.append(dict(context["approval"]))

    s = sensor(approvers=["alice", "bob"], required_approvals=2, notifiers=[Rec()])
    with pytest.raises(TaskAwaitingInput):
        s.execute(ctx())
    with pytest.raises(TaskAwaitingInput):
        s.execute_complete(ctx(), answer("alice"), wecube_state=state())
    assert seen[0]["reason"] is None and "1 of 2" in seen[1]["reason"] and seen[1]["round"] == 2
    assert "url" in seen[0] and seen[0]["subject"] == "[MEDIUM] Deploy"


# ------------------------------------------------------------------ answers


def test_single_approval_returns_decision_record(requests):
    s = sensor(approvers=["alice"])
    c = ctx()
    record = s.execute_complete(c, answer("alice", comment="fine"), wecube_state=state())
    assert record["decision"] == "approved"
    assert record["approvers"][0]["by"] == "alice" and record["approvers"][0]["comment"] == "fine"
    assert c["ti"].xcom["decision"] == record and requests == []


def test_four_eyes_reopens_until_two_distinct(requests):
    s = sensor(approvers=["alice", "bob"], required_approvals=2)
    with pytest.raises(TaskAwaitingInput) as e:
        s.execute_complete(ctx(), answer("alice"), wecube_state=state())
    st = e.value.kwargs["wecube_state"]
    with pytest.raises(TaskAwaitingInput) as e:
        s.execute_complete(ctx(), answer("alice"), wecube_state=st)
    st = e.value.kwargs["wecube_state"]
    assert [a["by"] for a in st["tally"]["approvals"]] == ["alice"] and st["round"] == 3
    assert len(requests) == 2
    record = s.execute_complete(ctx(), answer("bob"), wecube_state=st)
    assert [a["by"] for a in record["approvers"]] == ["alice", "bob"]


def test_invalid_approval_form_reopens(requests):
    s = sensor(form={"ticket": Param(type="string")})
    c = ctx()
    with pytest.raises(TaskAwaitingInput):
        s.execute_complete(c, answer("alice"), wecube_state=state())
    assert "ticket: required field is missing" in c["ti"].xcom["approval_status"]["reason"]


@pytest.mark.parametrize(("on_reject", "exc"), [("fail", AirflowFailException), ("skip", AirflowSkipException)])
def test_reject_policy(on_reject, exc, requests):
    s = sensor(on_reject=on_reject)
    c = ctx()
    with pytest.raises(exc, match="Rejected by bob: too risky"):
        s.execute_complete(c, answer("bob", "Reject", comment="too risky"), wecube_state=state())
    assert c["ti"].xcom["decision"]["decision"] == "rejected"


def test_evidence_changed_after_approval_voids_it(requests):
    plan = {"v": 1}
    s = sensor(evidence=lambda context: plan)
    c = ctx()
    with pytest.raises(TaskAwaitingInput):
        s.execute(c)
    first = requests[0]["body"]
    assert "Evidence fingerprint" in first
    opened = state(evidence=mod.fingerprint(plan))
    plan["v"] = 2
    with pytest.raises(TaskAwaitingInput) as e:
        s.execute_complete(c, answer("alice"), wecube_state=opened)
    assert "evidence changed" in c["ti"].xcom["approval_status"]["reason"]
    st = e.value.kwargs["wecube_state"]
    assert st["tally"]["approvals"] == [] and st["evidence"] == mod.fingerprint(plan)
    record = s.execute_complete(c, answer("alice"), wecube_state=st)
    assert record["evidence"] == mod.fingerprint({"v": 2})


def test_evidence_template_is_rendered_each_time(requests):
    s = sensor(evidence="{{ dag_run.triggering_user_name }}-plan")
    assert s._evidence(ctx("x")) == mod.fingerprint("x-plan") != s._evidence(ctx("y"))


def test_deadline_passed_before_reopen_applies_timeout(requests):
    s = sensor(approvers=["alice", "bob"], required_approvals=2, response_timeout=10)
    with pytest.raises(AirflowSensorTimeout, match="only 1 of 2 approvals"):
        s.execute_complete(ctx(), answer("alice"), wecube_state=state(deadline_in=-1))
    assert requests == []


# ------------------------------------------------------------------ timeouts

TIMEOUT = {"error": "The Human-in-the-loop response timeout has passed without a response.", "error_type": "timeout"}


def test_timeout_fail_and_soft_fail():
    with pytest.raises(AirflowSensorTimeout):
        sensor(response_timeout=5).execute_complete(ctx(), TIMEOUT, wecube_state=state())
    with pytest.raises(AirflowSkipException, match="soft_fail"):
        sensor(response_timeout=5, soft_fail=True).execute_complete(ctx(), TIMEOUT, wecube_state=state())


def test_timeout_reject_follows_on_reject():
    c = ctx()
    with pytest.raises(AirflowFailException, match="Rejected by timeout"):
        sensor(response_timeout=5, on_timeout="reject").execute_complete(c, TIMEOUT, wecube_state=state())
    assert c["ti"].xcom["decision"]["timed_out"] is True
    with pytest.raises(AirflowSkipException):
        sensor(response_timeout=5, on_timeout="reject", on_reject="skip").execute_complete(
            ctx(), TIMEOUT, wecube_state=state()
        )


def test_timeout_approve():
    record = sensor(response_timeout=5, on_timeout="approve").execute_complete(ctx(), TIMEOUT, wecube_state=state())
    assert record["decision"] == "approved" and record["timed_out"] is True and record["approvers"] == []


def test_other_errors_fail():
    with pytest.raises(AirflowFailException, match="approval request failed"):
        sensor().execute_complete(ctx(), {"error": "boom", "error_type": "other"}, wecube_state=state())


def test_works_inside_a_dag_with_dag_level_params():
    """Airflow hands DAG params to every task: they are not the sensor's form."""
    import pendulum
    from airflow.sdk import DAG, Param

    with DAG("p", start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), schedule=None, params={"app": Param("x")}):
        s = ApprovalSensor(task_id="approve", subject="Deploy {{ params.app }}")
    assert "app" not in s.params and "comment" in s.params
    with pytest.raises(ValueError, match="use 'form'"):
        with DAG("q", start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), schedule=None, params={"app": "x"}):
            ApprovalSensor(task_id="approve", subject="s", params={"own": 1})
