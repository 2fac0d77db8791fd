from __future__ import annotations

import pytest

from airflow_wecube.approvals.policy import ApprovalPolicy
from airflow_wecube.approvals.tally import Response, Tally, decision_record, fingerprint

FOUR_EYES = ApprovalPolicy(approvers=["admin", "alice", "bob"], required_approvals=2, requester_cannot_approve=True)


def r(by, option="Approve", **form):
    return Response(by=by, at=f"2024-01-01T00:00:0{len(by)}+00:00", option=option, form=form)


def test_one_approval_is_not_enough_and_same_person_counts_once():
    t = Tally()
    assert t.add(r("alice", comment="ok"), FOUR_EYES, "admin")[0] == "pending"
    outcome, reason = t.add(r("alice"), FOUR_EYES, "admin")
    assert outcome == "pending" and "counts once" in reason
    assert t.approvers == ["alice"]
    assert t.add(r("bob"), FOUR_EYES, "admin") == ("approved", None)
    record = decision_record("approved", t)
    assert [a["by"] for a in record["approvers"]] == ["alice", "bob"]
    assert record["approvers"][0]["comment"] == "ok"
    assert record["ignored"] == [{"by": "alice", "reason": "alice already approved; the same person counts once"}]


def test_requester_approval_does_not_count():
    t = Tally()
    outcome, reason = t.add(r("admin"), FOUR_EYES, "admin")
    assert outcome == "pending" and "may not approve" in reason and t.approvals == []


def test_any_rejection_decides():
    t = Tally()
    t.add(r("alice"), FOUR_EYES, "admin")
    assert t.add(r("bob", "Reject", comment="too risky"), FOUR_EYES, "admin") == ("rejected", None)
    record = decision_record("rejected", t)
    assert record["decision"] == "rejected"
    assert record["approvers"] == [{"by": "bob", "at": t.rejection["at"], "comment": "too risky", "option": "Reject"}]


def test_approval_without_user_does_not_count():
    t = Tally()
    assert t.add(Response(by=None, at=None, option="Approve"), ApprovalPolicy(), None)[0] == "pending"


def test_void_and_roundtrip():
    t = Tally()
    t.add(r("alice"), FOUR_EYES, "admin")
    t.void("evidence changed")
    assert t.approvals == [] and t.ignored[0]["reason"] == "evidence changed"
    again = Tally.from_dict(t.to_dict())
    assert again == t


def test_form_merge_later_non_empty_wins():
    t = Tally()
    t.add(r("alice", ticket="CHG-1", comment="a"), FOUR_EYES, "admin")
    t.add(r("bob", ticket="", comment="b"), FOUR_EYES, "admin")
    assert decision_record("approved", t)["form"] == {"ticket": "CHG-1", "comment": "b"}


def test_decision_record_validates():
    with pytest.raises(ValueError):
        decision_record("maybe", Tally())


def test_fingerprint_is_stable_and_sensitive():
    assert fingerprint(None) is None
    assert fingerprint({"a": 1, "b": [2]}) == fingerprint({"b": [2], "a": 1})
    assert fingerprint("plan v1") != fingerprint("plan v2")
    assert fingerprint("x").startswith("sha256:")
