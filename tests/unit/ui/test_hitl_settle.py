"""When the API-server middleware holds an answer to a HITL request (the race itself is shown end to end
in tests/e2e/test_approval.py::test_answers_at_once_resume_the_run)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from airflow_wecube.ui.hitl_settle import HITL_ANSWER, hold_for

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
