"""What the rollout's rollback decides, host by host (airflow_wecube.orchestrations.rollback): the
released version where the app served, removal where it never did; the calls themselves run against
the real sandbox in tests/integration/orchestrations/test_rollback.py."""

from __future__ import annotations

from airflow_wecube.orchestrations.rollback import plan_rollback, released, served, touched_hosts

RELEASE = {"version": "1.0.0", "hosts": ["h1", "h2"], "settings": {"rate": 5, "error_rate": 0.0}}


def now(version: str = "2.0.0", status: str = "running", target: str = "t") -> dict:
    return {"host_guid": "g", "version": version, "status": status, "target": target}


def test_touched_hosts_are_the_changed_and_failed_ones_or_every_planned_host():
    result = {
        "outputs": [
            {"callbackParameter": "h1", "errorCode": "0", "changed": "N"},
            {"callbackParameter": "h2", "errorCode": "0", "changed": "Y"},
            {"callbackParameter": "h3", "errorCode": "1", "errorMessage": "unhealthy"},
        ]
    }
    assert touched_hosts(result, []) == ["h2", "h3"]
    assert touched_hosts(None, [{"callbackParameter": "h1"}, {"callbackParameter": "h2"}]) == ["h1", "h2"]


def test_the_release_is_read_from_the_app_record():
    attrs = {
        "version": "1.0.0",
        "instances": [{"host": "h2"}, {"host": "h1"}],
        "deploy_settings": {"rate": 5, "error_rate": 0.0, "other": 1},
    }
    assert released([{"attributes": attrs}]) == RELEASE
    assert released([]) is None and released([{"attributes": {"instances": []}}]) is None
    old_record = released([{"attributes": {"version": "0.9", "instances": [{"host": "h1"}]}}])
    assert old_record == {"version": "0.9", "hosts": ["h1"], "settings": {}}  # a record from before the settings


def test_only_a_running_host_served():
    before = {
        "instances": {"h1": {"version": "1.0.0", "status": "running"}, "h2": {"version": "1", "status": "failed"}}
    }
    assert served(before, "h1") == "1.0.0" and served(before, "h2") is None and served(before, "h3") is None


def test_the_released_version_goes_back_even_where_the_sandbox_remembers_a_rejected_build():
    before = {"released": RELEASE, "instances": {"h1": {"version": "1.0.0", "status": "failed"}}}
    plan = plan_rollback("acct", ["h1"], {"h1": now("1.1.0+slowclose")}, before)
    assert plan.restore == [
        (
            {"callbackParameter": "h1", "host": "g", "app": "acct", "version": "1.0.0", "rate": 5, "error_rate": 0.0},
            "1.1.0+slowclose",
        )
    ]
    assert plan.stop == [] and not plan.remove_rules


def test_a_host_that_served_outside_the_release_gets_the_release():
    before = {"released": RELEASE, "instances": {"h3": {"version": "0.9", "status": "running"}}}
    plan = plan_rollback("acct", ["h3"], {"h3": now()}, before)
    assert [(e["version"], was) for e, was in plan.restore] == [("1.0.0", "2.0.0")]


def test_a_new_host_of_a_released_app_is_stopped_the_rules_stay():
    before = {"released": RELEASE, "instances": {}}
    plan = plan_rollback("acct", ["h1", "h9"], {"h1": now(), "h9": now(target="127.0.0.1:9")}, before)
    assert [e["callbackParameter"] for e, _ in plan.restore] == ["h1"]
    assert plan.stop == [({"callbackParameter": "h9", "host": "g", "app": "acct"}, "127.0.0.1:9")]
    assert not plan.remove_rules


def test_without_a_release_a_host_that_served_keeps_its_version_and_a_first_deploy_is_removed():
    before = {"released": None, "instances": {"h1": {"version": "0.9", "status": "running"}}}
    plan = plan_rollback("acct", ["h1", "h2"], {"h1": now(), "h2": now(target="t2")}, before)
    assert [(e["version"], was) for e, was in plan.restore] == [("0.9", "2.0.0")]
    assert [t for _, t in plan.stop] == ["t2"] and not plan.remove_rules

    first = plan_rollback("acct", ["h1", "h2"], {"h1": now(target="t1"), "h2": now(target="t2")}, {"released": None})
    assert first.restore == [] and [t for _, t in first.stop] == ["t1", "t2"] and first.remove_rules


def test_a_host_the_app_never_ran_on_is_left_alone():
    plan = plan_rollback("acct", ["h1"], {"h1": None}, {"released": RELEASE, "instances": {}})
    assert plan.restore == [] and plan.stop == []
