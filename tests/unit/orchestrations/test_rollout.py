"""The pure parts of airflow_wecube.orchestrations.rollout: parameter rules, host requests, the approver's plan,
the error-rate gate and the app's CMDB attributes (the rollback runs against the real sandbox in
tests/integration/orchestrations/test_rollback.py)."""

from __future__ import annotations

import re

import pytest

from airflow_wecube.orchestrations.rollout import (
    APP_PATTERN,
    SUBNET_PATTERN,
    VERSION_PATTERN,
    WINDOW_PATTERN,
    alert_prefix,
    app_attributes,
    baseline_reason,
    down_alert,
    error_rate_alert,
    error_rate_failure,
    error_rate_promql,
    error_rates,
    host_requests,
    job_name,
    probe_branch,
    probe_stop_reason,
    rollout_plan,
)

PARAMS = {
    "app": "acct",
    "version": "2.0.0",
    "host_count": 2,
    "subnet": "sn-a",
    "rate": 5.0,
    "error_rate": 0.1,
    "max_error_rate": 0.05,
}


@pytest.mark.parametrize(
    ("pattern", "good", "bad"),
    [
        (APP_PATTERN, ["account-service", "a.b_c"], ["", "-a", "a b", "x" * 42]),
        (VERSION_PATTERN, ["1.0.0", "2.0+build.1", "broken-1"], ["", "+1", "1 0"]),
        (SUBNET_PATTERN, ["vpc-sz-prod-web-sz-a", "ci-0a1b"], ["", "a b", "x" * 64]),
        (WINDOW_PATTERN, ["30s", "2m", "1h"], ["0s", "30", "05m", "1d"]),
    ],
)
def test_parameter_patterns(pattern, good, bad):
    assert all(re.match(pattern, v) for v in good), good
    assert not any(re.match(pattern, v) for v in bad), bad


def test_host_requests_name_the_hosts_after_the_app():
    assert host_requests(PARAMS) == [
        {"callbackParameter": "acct-1", "name": "acct-1", "subnet": "sn-a"},
        {"callbackParameter": "acct-2", "name": "acct-2", "subnet": "sn-a"},
    ]
    assert job_name("acct") == "wecube_app_acct"


def test_plan_sorts_the_hosts_and_shows_them_to_the_approver():
    outs = [
        {"name": "acct-2", "guid": "g2", "ip": "10.0.0.3", "subnet": "sn-a", "ports": "9100-9109", "created": "Y"},
        {"name": "acct-1", "guid": "g1", "ip": "10.0.0.2", "subnet": "sn-a", "ports": "9000-9009", "created": "N"},
    ]
    plan = rollout_plan(outs, PARAMS)
    assert [h["name"] for h in plan["hosts"]] == ["acct-1", "acct-2"]
    assert plan["deploy_inputs"][0] == {
        "callbackParameter": "acct-1",
        "host": "g1",
        "app": "acct",
        "version": "2.0.0",
        "rate": 5.0,
        "error_rate": 0.1,
    }
    md = plan["markdown"]
    assert md.startswith("Deploy **acct 2.0.0** to 2 host(s):")
    assert "| acct-1 | 10.0.0.2 | sn-a | 9000-9009 | N |" in md
    assert "job `wecube_app_acct`" in md and "error rate below 0.05" in md
    # the first host is the canary, probed before the others
    assert plan["canary_inputs"] == plan["deploy_inputs"][:1]
    assert "First to the canary **acct-1** alone; then a capacity probe" in md
    assert "the capacity probe is off" in rollout_plan(outs, {**PARAMS, "probe": False})["markdown"]


SLOW = {
    "verdict": "regression",
    "instances": ["127.0.0.1:25001"],
    "coefficients": ["accounts_closed"],
    "reasons": ["coefficient accounts_closed rose 0.2 → 0.4 (+100%, above 30%); ..."],
    "app_version": "1.1.0+slowclose",
}


def test_only_a_non_pass_verdict_asks_a_human():
    assert probe_branch(None) == "probe_ok"  # no probe ran
    assert probe_branch({"verdict": "pass"}) == "probe_ok"
    assert probe_branch(SLOW) == probe_branch({"verdict": "new_factor"}) == "probe_decision"


def test_a_stop_names_the_verdict_and_its_coefficient():
    text = probe_stop_reason(SLOW, "Rejected by bob: too slow")
    assert text == (
        "capacity probe of the canary (127.0.0.1:25001): regression (accounts_closed): coefficient accounts_closed "
        "rose 0.2 → 0.4 (+100%, above 30%); ...; stopped: Rejected by bob: too slow"
    )
    assert probe_stop_reason(None, "Rejected by bob") == "Rejected by bob"


def test_the_baseline_records_who_continued_anyway_and_why():
    decision = {"approvers": [{"by": "alice", "form": {"reason": "closing is rare"}, "comment": None}]}
    assert baseline_reason(SLOW, decision) == (
        "released 1.1.0+slowclose (probe verdict regression, continued anyway by alice: closing is rare)"
    )
    assert baseline_reason({"app_version": "1.0.0", "verdict": "pass"}, None) == "released 1.0.0 (probe verdict pass)"


def test_error_rate_gate_names_every_instance_above_the_limit():
    series = [
        {"labels": {"instance": "b:1"}, "value": 0.2},
        {"labels": {"instance": "a:1"}, "value": 0.01},
        {"labels": {}, "value": "NaN"},
    ]
    rates = error_rates(series)
    assert rates == {"b:1": 0.2, "a:1": 0.01, "?": "NaN"}
    assert error_rate_failure(rates, 0.05) == "error rate above 0.05: ? = NaN, b:1 = 0.200"
    assert error_rate_failure({"a:1": 0.05, "b:1": 0}, 0.05) is None


def test_error_rate_promql_is_per_instance_over_the_window():
    q = error_rate_promql('job="j"', "30s")
    assert q.startswith('sum by (instance) (rate(account_errors_total{job="j"}[30s]))')
    assert "clamp_min(" in q and 'accounts_closed_total{job="j"}[30s]' in q


def test_app_attributes_record_the_instances_and_the_run():
    deployed = [
        {"host": "acct-1", "guid": "ci-1", "target": "127.0.0.1:9000", "url": "http://127.0.0.1:9000", "port": 9000}
    ]
    attrs = app_attributes(PARAMS, deployed, None, {"group": "wecube_app_acct", "rules": ["down"]}, "manual__1")
    assert attrs == {
        "version": "2.0.0",
        "instances": [{"host": "acct-1", "guid": "ci-1", "target": "127.0.0.1:9000", "url": "http://127.0.0.1:9000"}],
        "prometheus_job": "wecube_app_acct",
        "targets_added_by_this_run": [],
        "alert_rule_group": "wecube_app_acct",
        "alert_rules": ["down"],
        "rolled_out_by": "manual__1",
        "deploy_settings": {"rate": 5.0, "error_rate": 0.1},
    }


@pytest.mark.parametrize(
    ("app", "down"),
    [
        ("account-service", "AccountServiceDown"),
        ("e2e-shop", "E2eShopDown"),
        ("ledger", "LedgerDown"),
        ("my.api_v2", "MyApiV2Down"),
        ("x", "XDown"),
    ],
)
def test_alert_names_derive_from_the_app(app, down):
    """The runbook is scheduled on the alert's name, so it must be predictable from the app."""
    assert re.fullmatch(APP_PATTERN, app)
    assert down_alert(app) == down
    assert error_rate_alert(app) == down.removesuffix("Down") + "ErrorRateHigh"


def test_alert_prefix_refuses_a_name_without_letters():
    with pytest.raises(ValueError, match="no letters or digits"):
        alert_prefix("--")
