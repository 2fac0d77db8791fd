"""The pure parts of airflow_wecube.orchestrations.failures: conf checks, failure order, the final message."""

from __future__ import annotations

import pytest

from airflow_wecube.orchestrations.failures import (
    ConfError,
    created_hosts,
    deploy_reason,
    describe_release,
    describe_rollback,
    error_text,
    failed_in_order,
    failure_message,
    first_cause,
    refuse_unknown_conf,
)

ORDER = ("host_requests", "create_hosts", "plan", "approve", "deploy", "gate_up", "rollback", "release_hosts")


def test_unknown_conf_keys_are_named_with_the_accepted_ones():
    refuse_unknown_conf({"app": "a"}, ["app", "subnet"])
    refuse_unknown_conf(None, ["app"])
    with pytest.raises(ConfError) as e:
        refuse_unknown_conf({"app": "a", "subnet_name": "x", "hosts": 2}, ["app", "subnet"])
    assert "unknown parameter(s) 'hosts', 'subnet_name'" in str(e.value)
    assert "this DAG takes app, subnet" in str(e.value) and "nothing was created" in str(e.value)


def test_failed_in_order_follows_the_dag_and_labels_mapped_instances():
    states = {
        "create_hosts_1": "failed",
        "create_hosts_0": "success",
        "create_hosts_10": "failed",
        "plan": "upstream_failed",
        "deploy": "upstream_failed",
        "rollback": "skipped",
        "host_requests": "success",
    }
    assert failed_in_order(states, ORDER) == ["create_hosts[1]", "create_hosts[10]", "plan", "deploy"]
    assert failed_in_order({"gate_up": "success", "rollback": "skipped"}, ORDER) == []


def test_first_cause_is_the_first_task_with_an_error_of_its_own():
    failed = ["gate_up", "rollback"]
    records = {"gate_up": "timed out: last poke: Prometheus at http://x is unreachable", "rollback": "boom"}
    assert first_cause(failed, records) == ("gate_up", records["gate_up"])
    # upstream_failed tasks did not run and recorded nothing: the first recorded error wins
    assert first_cause(["plan", "deploy", "approve"], {"approve": "Rejected by bob"}) == ("approve", "Rejected by bob")
    assert first_cause(["deploy"], {})[1].startswith("no error was recorded")
    assert first_cause([], {}) is None


def test_error_text_keeps_the_type_unless_it_is_a_plain_fail():
    from airflow.sdk.exceptions import AirflowFailException

    assert error_text(AirflowFailException("error rate above 0.05")) == "error rate above 0.05"
    assert error_text(KeyError("host_guid")) == "KeyError: 'host_guid'"
    assert error_text(RuntimeError()) == "RuntimeError"
    assert len(error_text("x" * 5000)) == 2000


def test_created_hosts_are_only_those_this_run_created():
    outs = [{"name": "a-2", "created": "Y"}, None, {"name": "a-1", "created": "Y"}, {"name": "a-3", "created": "N"}]
    assert [h["name"] for h in created_hosts(outs)] == ["a-1", "a-2"]


def test_deploy_reason_lists_each_failed_host():
    result = {"outputs": [{}, {}], "failed": [{"callbackParameter": "a-1", "errorMessage": "health check failed"}]}
    assert (
        deploy_reason("shop", "2.0", result) == "deploy of shop 2.0 failed on 1 of 2 host(s): a-1: health check failed"
    )
    assert deploy_reason("shop", "2.0", {"outputs": [], "failed": []}) is None
    assert deploy_reason("shop", "2.0", None) is None


def test_describe_rollback_says_what_it_did_or_why_it_could_not():
    assert describe_rollback("skipped", None, None) == "nothing was deployed, nothing to roll back"
    assert describe_rollback("success", {"actions": ["a-1: stopped"], "problems": []}, None) == "a-1: stopped"
    failed = describe_rollback("failed", {"actions": ["a-1: stopped"], "problems": []}, "could not read: refused")
    assert failed == "the rollback FAILED: could not read: refused (it did: a-1: stopped)"
    assert describe_rollback("failed", None, None).startswith("the rollback FAILED: no error was recorded")


def test_describe_release():
    release = {
        "released": [{"name": "a-1", "ip": "10.0.0.2"}, {"name": "a-2", "ip": None}],
        "problems": [],
        "not_released": [],
        "kept": ["a-3"],
    }
    assert describe_release(release) == (
        "released host(s) a-1 (10.0.0.2), a-2; kept host(s) a-3 (they existed before this run)"
    )
    bad = {"released": [], "problems": ["refused"], "not_released": ["a-1"], "kept": []}
    assert describe_release(bad) == "host(s) a-1 were NOT released (refused); destroy them with host/host/destroy"
    assert describe_release(None, [{"name": "a-1"}]).startswith("hosts a-1 created by this run were NOT released")
    assert describe_release(None, []) == "no hosts were created by this run"


def test_failure_message_names_cause_rollback_and_hosts():
    msg = failure_message(
        "rollout of shop 2.0", ("gate_up", "timed out"), rollback="a-1: stopped", hosts="released a-1"
    )
    assert msg.splitlines() == [
        "rollout of shop 2.0 failed at gate_up: timed out",
        "Rollback: a-1: stopped.",
        "Hosts: released a-1.",
    ]
    rejected = failure_message("rollout of shop 2.0", ("approve", "Rejected by bob: no"), rollback="r", hosts="h")
    assert rejected.splitlines()[0] == "rollout of shop 2.0 was not approved: Rejected by bob: no"
