"""The guard rails as pure decisions: every branch of decide(), the kill switch's parsing, the lock's states
and the history's compare-and-set (the CMDB side runs against the sandbox in tests/integration/remediation)."""

from __future__ import annotations

import pytest

from airflow_wecube.remediation.alerts import Alert
from airflow_wecube.remediation.guard import (
    ACT,
    AT_LIMIT,
    BUSY,
    COOLDOWN,
    DRY_RUN,
    DUPLICATE,
    ESCALATING,
    FLAPPING,
    FREE,
    HELD,
    HISTORY_KEEP,
    KILLED,
    MINE,
    OFF,
    RESOLVED_ALERT,
    ROLLOUT,
    STALE,
    UNKNOWN,
    Policy,
    decide,
    lock_claim,
    lock_release,
    lock_state,
    parse_mode,
    with_attempts,
)

NOW = 1_800_000_000.0
POLICY = Policy(cooldown=300, flap_limit=3, flap_window=3600)
LABELS = {"alertname": "AccountServiceDown", "instance": "127.0.0.1:25000", "app": "account-service", "job": "j"}


def alert(status="firing", starts="2026-12-01T20:00:00Z", fp="abc") -> Alert:
    return Alert(status=status, labels=LABELS, fingerprint=fp, starts_at=starts)


def acted(seconds_ago: float, key="other") -> dict:
    return {"at": NOW - seconds_ago, "run": "r/old", "alert": key, "decision": ACT, "outcome": "fixed"}


def test_a_first_firing_alert_acts():
    d = decide(alert(), [], now=NOW, mode="on", policy=POLICY)
    assert d.kind == ACT and d.acts and not d.escalates


def test_resolved_alert_is_only_recorded():
    d = decide(alert(status="resolved"), [], now=NOW, mode="off", policy=POLICY, known=False)
    assert d.kind == RESOLVED_ALERT and not d.acts and not d.escalates


def test_the_same_alert_twice_acts_once():
    first = decide(alert(), [], now=NOW, mode="on", policy=POLICY)
    history = [{"at": NOW, "run": "r/1", "alert": alert().key, "decision": first.kind}]
    again = decide(alert(), history, now=NOW + 1, mode="on", policy=POLICY)
    assert again.kind == DUPLICATE and "r/1" in again.reason and not again.escalates
    # a new firing episode of the same alert (new startsAt) is not a duplicate
    assert decide(alert(starts="2026-12-01T21:00:00Z"), history, now=NOW + 400, mode="on", policy=POLICY).acts


def test_a_dry_run_does_not_make_the_real_alert_a_duplicate():
    history = [{"at": NOW, "run": "r/dry", "alert": alert().key, "decision": DRY_RUN}]
    assert decide(alert(), history, now=NOW, mode="on", policy=POLICY).acts


def test_cooldown_does_not_act_again_and_escalates():
    d = decide(alert(), [acted(40)], now=NOW, mode="on", policy=POLICY)
    assert d.kind == COOLDOWN and d.escalates
    assert d.reason == "acted on 40 s ago, inside the cooldown of 5 min: not acting again"
    # after the cooldown it acts again
    assert decide(alert(), [acted(301)], now=NOW, mode="on", policy=POLICY).acts


def test_the_third_fix_within_an_hour_escalates_instead():
    history = [acted(3000, "a"), acted(1000, "b")]
    d = decide(alert(), history, now=NOW, mode="on", policy=POLICY)
    assert d.kind == FLAPPING and d.escalates
    assert "needed fixing 3 times within 1 hour (limit 3)" in d.reason
    # an old fix falls out of the window
    assert decide(alert(), [acted(4000, "a"), acted(1000, "b")], now=NOW, mode="on", policy=POLICY).acts
    # only attempts that acted count
    cooled = [{**acted(3000, "a"), "decision": COOLDOWN}, acted(1000, "b")]
    assert decide(alert(), cooled, now=NOW, mode="on", policy=POLICY).acts


def test_off_records_and_escalates_and_a_bad_switch_counts_as_off():
    d = decide(alert(), [], now=NOW, mode=OFF, policy=POLICY)
    assert d.kind == KILLED and d.escalates and "wecube_auto_remediation" in d.reason
    mode, problem = parse_mode("maybe")
    assert mode == OFF and problem.startswith("Variable wecube_auto_remediation is 'maybe': it must be one of on")
    d = decide(alert(), [], now=NOW, mode=mode, mode_problem=problem, policy=POLICY)
    assert d.kind == KILLED and d.reason == problem


@pytest.mark.parametrize(
    ("value", "mode"), [(None, "on"), ("", "on"), (" ON ", "on"), ("approve", "approve"), ("off", "off")]
)
def test_kill_switch_values(value, mode):
    assert parse_mode(value) == (mode, None)


def test_busy_target_is_left_to_the_run_that_holds_it():
    d = decide(alert(), [], now=NOW, mode="on", policy=POLICY, busy_with="wecube_remediate_instance/r2")
    assert d.kind == BUSY and not d.escalates and "r2" in d.reason


def test_a_rollout_of_the_app_in_progress_is_left_to_a_person():
    held = "wecube_app_rollout/manual__r of version 1.3.0, since 2026-12-01 20:00:00 UTC"
    d = decide(alert(), [], now=NOW, mode="on", policy=POLICY, rollout=held, busy_with="wecube_remediate_instance/r2")
    assert d.kind == ROLLOUT and d.escalates and not d.acts
    assert d.reason == f"a rollout of {alert().app} is in progress ({held}): acting now would change what it deploys"
    # the kill switch and a duplicate come first; a dry run only says it
    assert decide(alert(), [], now=NOW, mode=OFF, policy=POLICY, rollout=held).kind == KILLED
    assert decide(alert(), [], now=NOW, mode="on", policy=POLICY, rollout=held, dry_run=True).would == ROLLOUT


def test_unknown_instance_escalates():
    d = decide(alert(), [], now=NOW, mode="on", policy=POLICY, known=False)
    assert d.kind == UNKNOWN and d.escalates


def test_dry_run_tells_what_it_would_do_and_asks_nobody():
    d = decide(alert(), [acted(40)], now=NOW, mode="on", policy=POLICY, dry_run=True)
    assert d.kind == DRY_RUN and d.would == COOLDOWN and not d.escalates and not d.acts
    assert d.reason.startswith("dry run, nothing done; would cooldown:")
    assert decide(alert(), [], now=NOW, mode="on", policy=POLICY, dry_run=True).would == ACT


def test_escalating_decisions():
    assert ESCALATING == {UNKNOWN, KILLED, ROLLOUT, FLAPPING, COOLDOWN, AT_LIMIT}


def test_policy_refuses_nonsense():
    with pytest.raises(ValueError, match="flap_limit"):
        Policy(flap_limit=0)
    with pytest.raises(ValueError, match="cooldown"):
        Policy(cooldown=-1)


def test_lock_states():
    assert lock_state({}, "me", now=NOW, holder_running=None) == FREE
    held = {"holder": "other", "holder_until": NOW + 60}
    assert lock_state({**held, "holder": "me"}, "me", now=NOW, holder_running=True) == MINE
    assert lock_state(held, "me", now=NOW, holder_running=True) == HELD
    assert lock_state(held, "me", now=NOW, holder_running=None) == HELD
    # its run ended without giving it back, or it outlived its ttl: taken over
    assert lock_state(held, "me", now=NOW, holder_running=False) == STALE
    assert lock_state({**held, "holder_until": NOW - 1}, "me", now=NOW, holder_running=True) == STALE


def test_lock_compare_and_set_shapes():
    expected, change = lock_claim({"holder": "stale-run"}, "me", now=NOW, ttl=60)
    assert expected == {"holder": "stale-run"}
    assert change == {"holder": "me", "holder_since": NOW, "holder_until": NOW + 60}
    assert lock_claim({}, "me", now=NOW, ttl=60)[0] == {"holder": None}
    assert lock_release("me") == ({"holder": "me"}, {"holder": None, "holder_since": None, "holder_until": None})


def test_history_append_is_versioned_and_bounded():
    expected, change = with_attempts({}, [{"run": "r/1"}])
    assert expected == {"revision": None} and change == {"revision": 1, "attempts": [{"run": "r/1"}]}
    full = {"revision": 7, "attempts": [{"run": f"r/{i}"} for i in range(HISTORY_KEEP)]}
    expected, change = with_attempts(full, [{"run": "r/new"}])
    assert expected == {"revision": 7} and change["revision"] == 8
    assert len(change["attempts"]) == HISTORY_KEEP and change["attempts"][-1] == {"run": "r/new"}
    assert change["attempts"][0] == {"run": "r/1"}


def test_a_retried_task_records_its_attempt_once():
    first = {"run": "r/1", "alert": "a@1", "decision": "act", "outcome": "failed"}
    other = {"run": "r/0", "alert": "a@1", "decision": "act"}
    _, change = with_attempts({"revision": 3, "attempts": [other, first]}, [{**first, "outcome": "fixed"}])
    assert change["attempts"] == [other, {**first, "outcome": "fixed"}]
