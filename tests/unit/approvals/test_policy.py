from __future__ import annotations

import pytest

from airflow_wecube.approvals.policy import ApprovalPolicy, normalize_users


def test_defaults():
    p = ApprovalPolicy()
    assert p.options == ("Approve", "Reject") and p.approve_options == ("Approve",)
    assert p.is_approval("Approve") and not p.is_approval("Reject")
    assert p.approvers is None and p.assignees_for("admin") is None


def test_normalize_users_accepts_names_and_hitl_users():
    assert normalize_users("alice") == [{"id": "alice", "name": "alice"}]
    assert normalize_users(["alice", {"id": "7", "name": "Bob"}, "alice"]) == [
        {"id": "alice", "name": "alice"},
        {"id": "7", "name": "Bob"},
    ]
    assert normalize_users([]) is None


@pytest.mark.parametrize("bad", [[""], [{"name": "x"}], [3], 5])
def test_normalize_users_rejects_garbage(bad):
    with pytest.raises(ValueError):
        normalize_users(bad)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"options": []}, "options must not be empty"),
        ({"options": ["Go", "Go"]}, "unique"),
        ({"options": ["Go", ""]}, "non-empty strings"),
        ({"approve_options": ["Yes"]}, "not among options"),
        ({"approve_options": []}, "at least one"),
        ({"required_approvals": 0}, "at least 1"),
        ({"required_approvals": True}, "integer"),
        ({"required_approvals": 3, "approvers": ["a", "b"]}, "only 2 approvers"),
        ({"response_timeout": -1}, "positive"),
        ({"response_timeout": "10"}, "seconds"),
        ({"on_timeout": "maybe"}, "on_timeout must be one of"),
        ({"on_reject": "retry"}, "on_reject must be one of"),
        ({"priority": "urgent"}, "priority must be one of"),
        ({"on_timeout": "approve"}, "needs a response_timeout"),
        ({"on_timeout": "approve", "response_timeout": 5, "required_approvals": 2}, "bypass the four-eyes"),
        ({"on_timeout": "approve", "response_timeout": 5, "requester_cannot_approve": True}, "bypass"),
    ],
)
def test_bad_settings_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ApprovalPolicy(**kwargs)


def test_custom_options_and_approve_options():
    p = ApprovalPolicy(options=["Ship", "Ship with care", "Stop"], approve_options=["Ship", "Ship with care"])
    assert p.is_approval("Ship with care") and not p.is_approval("Stop")


def test_requester_left_out_of_assignees():
    p = ApprovalPolicy(approvers=["admin", "alice", "bob"], required_approvals=2, requester_cannot_approve=True)
    assert [u["id"] for u in p.assignees_for("admin")] == ["alice", "bob"]
    assert [u["id"] for u in p.assignees_for("carol")] == ["admin", "alice", "bob"]
    # without the rule the requester stays assigned
    q = ApprovalPolicy(approvers=["admin", "alice"])
    assert [u["id"] for u in q.assignees_for("admin")] == ["admin", "alice"]


def test_too_few_approvers_left_without_requester():
    p = ApprovalPolicy(approvers=["admin", "alice"], required_approvals=2, requester_cannot_approve=True)
    with pytest.raises(ValueError, match="only 1 other approvers remain"):
        p.assignees_for("admin")
