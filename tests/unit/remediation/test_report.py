"""What a runbook run tells a person: why it escalates, the evidence, the run's message."""

from __future__ import annotations

from airflow_wecube.remediation.report import escalation_reasons, evidence_markdown, final_message, outcome_of

ALERT = {
    "status": "firing",
    "startsAt": "2026-12-01T20:00:00Z",
    "fingerprint": "f1",
    "annotations": {"summary": "127.0.0.1:25000 of account-service is down"},
}


def entry(**kw) -> dict:
    base = {
        "alertname": "AccountServiceDown",
        "status": "firing",
        "instance": "127.0.0.1:25000",
        "app": "account-service",
        "target": "account-service@acct-1",
        "version": "1.0.0",
        "alert": ALERT,
    }
    return {**base, **kw}


def test_outcomes():
    assert outcome_of(entry(decision="act", up=True)) == "fixed"
    assert outcome_of(entry(decision="act", up=False)) == "failed"
    assert outcome_of(entry(decision="cooldown")) == "recorded"


def test_a_failed_fix_and_a_guard_rail_escalate_a_fix_and_a_duplicate_do_not():
    entries = [
        entry(decision="act", outcome="failed", error="redeploy failed: host acct-1 not found"),
        entry(decision="cooldown", reason="acted on 40 s ago", instance="i2", target="t2"),
        entry(decision="act", outcome="fixed"),
        entry(decision="duplicate", reason="handled"),
        entry(decision="resolved", reason="ended"),
    ]
    assert escalation_reasons(entries) == [
        "AccountServiceDown on 127.0.0.1:25000 (account-service@acct-1): the fix failed: "
        "redeploy failed: host acct-1 not found",
        "AccountServiceDown on i2 (t2): cooldown: acted on 40 s ago",
    ]


def test_the_evidence_holds_the_alert_and_every_attempt():
    history = [
        {"at": 1_800_000_000, "run": "r/1", "decision": "act", "outcome": "fixed"},
        {"at": 1_800_000_100, "run": "r/2", "decision": "act", "outcome": "failed", "error": "boom"},
    ]
    text = evidence_markdown([entry(decision="flapping", reason="3 times", history=history)], ["why it escalates"])
    assert text.startswith("**Automatic remediation needs a person.**\n\n- why it escalates")
    assert "### AccountServiceDown on 127.0.0.1:25000" in text
    assert "127.0.0.1:25000 of account-service is down" in text and "fingerprint `f1`" in text
    assert "| 2027-01-15 08:00:00 | r/1 | act | fixed |  |" in text
    assert "| 2027-01-15 08:01:40 | r/2 | act | failed | boom |" in text


def test_the_final_message_says_what_was_done_and_why_a_person_was_asked():
    action = "redeploy account-service 1.0.0 on acct-1"
    fixed = entry(decision="act", action=action, outcome="fixed", seconds_to_up=7.25, reason="redeploy")
    assert final_message([fixed], []) == (
        "AccountServiceDown firing on 127.0.0.1:25000: act, redeploy account-service 1.0.0 on acct-1 -> fixed "
        "(up again 7.2 s after the run started): redeploy"
    )
    off = entry(decision="off", reason="automatic remediation is off")
    message = final_message([off], ["it is off"], "alice: Leave it")
    assert message.splitlines() == [
        "AccountServiceDown firing on 127.0.0.1:25000: off: automatic remediation is off",
        "Escalated to a person (Required Actions, priority high): it is off",
        "Answer: alice: Leave it",
    ]
    assert final_message([], []) == "no alert to handle"
