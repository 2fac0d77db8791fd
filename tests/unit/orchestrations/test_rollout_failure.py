"""The rollout's failure steps with a fake task instance (states and XComs, no scheduler): the one
message a failed run ends with, in the order of ORDER, and the steps that skip when there is
nothing to do. Their plugin calls run against the real sandbox in
tests/integration/orchestrations/test_rollout_failure.py and end to end in tests/e2e/orchestrations."""

from __future__ import annotations

import pytest
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from airflow_wecube.orchestrations import rollout_failure as failure
from airflow_wecube.orchestrations.failures import FAILURE_XCOM_KEY, MESSAGE_XCOM_KEY, SUMMARY_XCOM_KEY
from airflow_wecube.orchestrations.rollout_steps import CLEANUP, ORDER, WATCHED
from tests.fixtures.task_instance import FakeTI, Mapped

PARAMS = {"app": "acct", "version": "1.1.0+slowclose"}
HOSTS = Mapped([{"name": "acct-1", "created": "N", "ip": "10.0.0.1"}, {"name": "acct-2", "created": "N"}])


def ran_until(failed: str, *, after: dict[str, str] | None = None) -> dict[str, str]:
    """States of a run whose task ``failed`` failed: those before it succeeded, the rest upstream_failed."""
    states = {"create_hosts_0": "success", "create_hosts_1": "success"}
    i = ORDER.index(failed)
    states.update({t: "success" for t in ORDER[:i] if t != "create_hosts"})
    states[failed] = "failed"
    states.update({t: "upstream_failed" for t in ORDER[i + 1 :] if t not in CLEANUP})
    states.update(after or {})
    return states


def fail(task: str, error: str) -> tuple[tuple[str, str], dict]:
    return (task, FAILURE_XCOM_KEY), {"task": task, "error": error}


def test_the_order_is_one_literal_the_watched_tasks_and_cleanup_in_it():
    assert ORDER[:4] == ("host_requests", "create_hosts", "plan", "approve") and ORDER[-1] == "promote_baseline"
    assert len(set(ORDER)) == len(ORDER)
    assert set(WATCHED) < set(ORDER) and set(CLEANUP) < set(ORDER) and "judge" not in WATCHED
    assert [t for t in ORDER if t in WATCHED] == list(WATCHED)


def test_a_stop_at_the_canary_names_the_verdict_the_rollback_and_the_kept_hosts():
    probe = {
        "verdict": "regression",
        "coefficients": ["accounts_closed"],
        "reasons": ["coefficient accounts_closed rose 96%"],
        "instances": ["127.0.0.1:9000"],
    }
    ti = FakeTI(
        ran_until("probe_decision", after={"rollback": "success", "release_hosts": "success"}),
        {
            "create_hosts": HOSTS,
            "probe": probe,
            ("rollback", SUMMARY_XCOM_KEY): {"actions": ["acct-1: rolled back from 1.1.0+slowclose to 1.0.0"]},
            ("release_hosts", SUMMARY_XCOM_KEY): {"released": [], "not_released": [], "kept": ["acct-1", "acct-2"]},
            **dict([fail("probe_decision", "Rejected by bob: no")]),
        },
    )
    with pytest.raises(AirflowFailException) as e:
        failure.report_failure(ti, PARAMS)
    assert str(e.value).splitlines() == [
        "rollout of acct 1.1.0+slowclose failed at probe_decision: capacity probe of the canary (127.0.0.1:9000): "
        "regression (accounts_closed): coefficient accounts_closed rose 96%; stopped: Rejected by bob: no",
        "Rollback: acct-1: rolled back from 1.1.0+slowclose to 1.0.0.",
        "Hosts: kept host(s) acct-1, acct-2 (they existed before this run).",
    ]
    assert ti.pushed[MESSAGE_XCOM_KEY] == str(e.value)


def test_a_second_rollout_of_the_app_is_refused_at_its_first_task():
    busy = "another rollout of acct is in progress: wecube_app_rollout/manual__0 of version 1.0.0, since ..."
    ti = FakeTI(
        {
            "host_requests": "failed",
            "create_hosts": "upstream_failed",
            "rollback": "skipped",
            "release_hosts": "skipped",
        },
        dict([fail("host_requests", busy)]),
    )
    message = failure.failure_report(ti, PARAMS)
    assert message.splitlines() == [
        f"rollout of acct 1.1.0+slowclose failed at host_requests: {busy}",
        "Rollback: nothing was deployed, nothing to roll back.",
        "Hosts: no hosts were created by this run.",
    ]


def test_a_record_that_failed_after_every_gate_says_the_release_stays():
    ti = FakeTI(
        ran_until("record_cmdb", after={"rollback": "skipped", "release_hosts": "skipped"}),
        {"create_hosts": HOSTS, **dict([fail("record_cmdb", "WeCubePluginError: cmdb down")])},
    )
    assert failure.failure_report(ti, PARAMS).splitlines()[:2] == [
        "rollout of acct 1.1.0+slowclose failed at record_cmdb: WeCubePluginError: cmdb down",
        "Rollback: none: every gate passed, the release stays deployed.",
    ]


def test_a_failed_rollback_is_reported_not_taken_for_the_cause():
    ti = FakeTI(
        ran_until("gate_up", after={"rollback": "failed", "release_hosts": "success"}),
        {
            **dict([fail("gate_up", "timed out"), fail("rollback", "rollback incomplete: deploy/app/deploy failed")]),
            ("rollback", SUMMARY_XCOM_KEY): {"actions": [], "problems": ["deploy/app/deploy failed"]},
        },
    )
    lines = failure.failure_report(ti, PARAMS).splitlines()
    assert lines[0] == "rollout of acct 1.1.0+slowclose failed at gate_up: timed out"
    assert lines[1] == "Rollback: the rollback FAILED: rollback incomplete: deploy/app/deploy failed."


def test_a_run_that_went_through_reports_nothing():
    states = {t: "success" for t in ORDER if t not in CLEANUP}
    ti = FakeTI({**states, "probe_decision": "skipped", "rollback": "skipped", "release_hosts": "skipped"})
    assert failure.failure_report(ti, PARAMS) is None
    with pytest.raises(AirflowSkipException, match="went through"):
        failure.report_failure(ti, PARAMS)
    assert MESSAGE_XCOM_KEY not in ti.pushed


def test_rollback_and_release_skip_when_there_is_nothing_to_undo():
    rejected = FakeTI(ran_until("approve"), {"approve": {"decision": "rejected"}})
    with pytest.raises(AirflowSkipException, match="not approved"):
        failure.rollback(rejected, PARAMS, hook=None, prometheus=None)
    went_through = FakeTI({t: "success" for t in ORDER[: ORDER.index("rollback")]})
    with pytest.raises(AirflowSkipException, match="its hosts stay"):
        failure.release_hosts(went_through, hook=None)
