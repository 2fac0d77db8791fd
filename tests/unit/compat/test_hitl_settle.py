"""When the API-server middleware holds an answer to a HITL request (the race itself is shown end to end
in tests/e2e/test_approval.py::test_answers_at_once_resume_the_run)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import anyio

from airflow_wecube.compat.hitl_settle import HITL_ANSWER, HITLAnswerSettleMiddleware, hold_for

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)


def test_only_the_hitl_answer_route_is_matched():
    m = HITL_ANSWER.search("/api/v2/dags/d/dagRuns/manual__2026-01-01T00:00:00+00:00/taskInstances/gate/-1/hitlDetails")
    assert m and m.groups() == ("d", "manual__2026-01-01T00:00:00+00:00", "gate", "-1")
    assert HITL_ANSWER.search("/api/v2/dags/d/dagRuns/r/taskInstances/gate/3/hitlDetails").group(4) == "3"
    assert not HITL_ANSWER.search("/api/v2/dags/d/dagRuns/r/taskInstances/gate/-1")
    assert not HITL_ANSWER.search("/api/v2/dags/~/dagRuns/~/hitlDetails")


def test_hold_until_the_park_has_settled():
    assert hold_for("awaiting_input", NOW - timedelta(seconds=3), NOW, 10) == 7
    assert hold_for("deferred", NOW - timedelta(seconds=9.5), NOW, 10) == 0.5
    assert hold_for("awaiting_input", NOW - timedelta(seconds=10), NOW, 10) is None  # settled: pass on
    assert hold_for("awaiting_input", (NOW - timedelta(seconds=1)).replace(tzinfo=None), NOW, 10) == 9


def test_running_waits_for_the_park_other_states_pass():
    assert hold_for("running", NOW, NOW, 10) > 0  # the request is open but the task has not parked yet
    for state in ("queued", "scheduled", "success", "failed", None):
        assert hold_for(state, NOW, NOW, 10) is None  # Airflow answers (409/…) without our help


def _call(middleware, method, path):
    seen = []

    async def app(scope, receive, send):
        seen.append((scope["method"], scope["path"]))

    anyio.run(
        HITLAnswerSettleMiddleware(app, **middleware).__call__,
        {"type": "http", "method": method, "path": path},
        None,
        None,
    )
    return seen


def test_middleware_passes_other_requests_without_looking(monkeypatch):
    def boom(*a):
        raise AssertionError("looked up a task instance for a request it must not hold")

    monkeypatch.setattr("airflow_wecube.compat.hitl_settle._ti", boom)
    path = "/api/v2/dags/d/dagRuns/r/taskInstances/gate/-1/hitlDetails"
    assert _call({}, "GET", path) == [("GET", path)]
    assert _call({}, "PATCH", "/api/v2/dags/d/dagRuns/r/taskInstances/gate/-1") == [
        ("PATCH", "/api/v2/dags/d/dagRuns/r/taskInstances/gate/-1")
    ]


def test_middleware_holds_an_answer_until_the_park_settled(monkeypatch):
    monkeypatch.setenv("AIRFLOW__WECUBE__RESUME_SETTLE_SECONDS", "0.6")
    parked_at: list[datetime] = []
    calls = []

    def fake_ti(dag_id, run_id, task_id, map_index):
        calls.append((dag_id, run_id, task_id, map_index))
        if len(calls) < 3:
            return ("running", None)  # still opening the request
        if not parked_at:
            parked_at.append(datetime.now(timezone.utc))
        return ("awaiting_input", parked_at[0])

    monkeypatch.setattr("airflow_wecube.compat.hitl_settle._ti", fake_ti)
    path = "/api/v2/dags/d/dagRuns/r/taskInstances/gate/-1/hitlDetails"
    assert _call({}, "PATCH", path) == [("PATCH", path)]
    assert calls[0] == ("d", "r", "gate", -1)
    assert (datetime.now(timezone.utc) - parked_at[0]).total_seconds() >= 0.6  # passed on only once settled


def test_middleware_gives_up_after_max_hold(monkeypatch):
    monkeypatch.setattr("airflow_wecube.compat.hitl_settle._ti", lambda *a: ("running", None))
    path = "/api/v2/dags/d/dagRuns/r/taskInstances/gate/-1/hitlDetails"
    assert _call({"max_hold": 0.5}, "PATCH", path) == [("PATCH", path)]  # never loses the answer
