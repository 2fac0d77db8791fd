from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from airflow_wecube.approvals.inbox import (
    format_table,
    human_age,
    inbox_rows,
    parse_request,
    render_footer,
    subject_with_priority,
)

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)


def detail(task, subject, body="", minutes_ago=1, state="awaiting_input", answered=False, users=()):
    return {
        "subject": subject,
        "body": body,
        "created_at": (NOW - timedelta(minutes=minutes_ago)).isoformat(),
        "response_received": answered,
        "assigned_users": [{"id": u, "name": u} for u in users],
        "task_instance": {"dag_id": "d", "dag_run_id": "r", "task_id": task, "map_index": -1, "state": state},
    }


def test_footer_roundtrip():
    deadline = NOW + timedelta(hours=1)
    body = "Plan" + render_footer(
        priority="high", required_approvals=2, requester_cannot_approve=True, deadline=deadline, evidence="sha256:ab"
    )
    meta = parse_request(subject_with_priority("Deploy", "high"), body)
    assert meta["priority"] == "high" and meta["deadline"] == deadline
    assert "2 distinct" in meta["required"] and "requester may not approve" in body


def test_plain_hitl_requests_default_to_medium():
    assert parse_request("Approve this?", None) == {"priority": "medium", "deadline": None, "required": None}
    assert parse_request("[LOW] x", "")["priority"] == "low"
    assert subject_with_priority("[LOW] x", "high") == "[HIGH] x"


def test_order_priority_then_oldest_and_skip_finished():
    rows = inbox_rows(
        [
            detail("low_old", "[LOW] a", minutes_ago=50),
            detail("med_new", "b", minutes_ago=1),
            detail("high_new", "[HIGH] c", minutes_ago=2, users=["alice"]),
            detail("high_old", "[HIGH] d", minutes_ago=30),
            detail("med_old", "e", minutes_ago=10),
            detail("done", "[HIGH] f", state="failed"),
            detail("answered", "[HIGH] g", answered=True),
        ],
        now=NOW,
    )
    assert [r["task_id"] for r in rows] == ["high_old", "high_new", "med_old", "med_new", "low_old"]
    assert rows[1]["approvers"] == ["alice"] and rows[1]["subject"] == "c" and rows[1]["age_seconds"] == 120
    table = format_table(rows)
    assert table.splitlines()[0].startswith("PRIORITY") and "(any)" in table
    assert format_table([]) == "no pending approvals"


def test_human_age():
    assert [human_age(s) for s in (5, 125, 3 * 3600 + 60, 2 * 86400 + 3600)] == ["5s", "2m", "3h01m", "2d1h"]


def test_created_at_without_offset_is_utc_and_a_bad_one_names_the_task():
    """Airflow's JSON carries an offset; one without is UTC (it used to fail subtracting from an aware now)."""
    naive = detail("t", "x", minutes_ago=5)
    naive["created_at"] = (NOW - timedelta(minutes=5)).replace(tzinfo=None).isoformat()
    assert inbox_rows([naive], now=NOW)[0]["age_seconds"] == 300
    bad = detail("t", "x")
    bad["created_at"] = "yesterday"
    with pytest.raises(ValueError, match="approval request of task d.t: created_at: not a time: 'yesterday'"):
        inbox_rows([bad], now=NOW)
