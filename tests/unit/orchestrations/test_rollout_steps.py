"""The rollout's steps that need no server, with a fake task instance: the alert rules as Prometheus
gets them, the error-rate gate, the first task's refusals (before the lock, before anything is
created) and the baseline step's skip. The lock, the plan and the promotion's Prometheus check run
against real servers in tests/integration/orchestrations/."""

from __future__ import annotations

from pathlib import Path

import jinja2
import pytest
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from airflow_wecube.orchestrations import rollout_steps as steps
from airflow_wecube.orchestrations.rollout import down_alert, error_rate_alert
from tests.fixtures.task_instance import FakeTI

PARAMS = {
    "app": "acct",
    "version": "1.0.0",
    "host_count": 1,
    "subnet": "sn",
    "down_for": "1m",
    "rate_window": "30s",
    "max_error_rate": 0.05,
    "probe": True,
    "capacity_spec": "account_service",
    "scrape_interval": 5,
}


def render(value, params):
    """Render a templated structure as Airflow does for a templated field."""
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    env.filters.update(down_alert=down_alert, error_rate_alert=error_rate_alert)
    if isinstance(value, dict):
        return {k: render(v, params) for k, v in value.items()}
    if isinstance(value, list):
        return [render(v, params) for v in value]
    return env.from_string(value).render(params=params)


def test_alert_rules_name_the_app_and_keep_prometheus_templates():
    down, errors = render(steps.alert_rules(), PARAMS)
    assert down == {
        "alert": "AcctDown",
        "expr": 'up{job="wecube_app_acct"} == 0',
        "for": "1m",
        "labels": {
            "severity": "critical",
            "app": "acct",
            "job": "wecube_app_acct",
            "instance": "{{ $labels.instance }}",
        },
        "annotations": {"summary": "{{ $labels.instance }} of acct is down"},
    }
    assert errors["alert"] == "AcctErrorRateHigh" and errors["for"] == "2m"
    assert errors["expr"].endswith(") > 0.05") and "[30s]" in errors["expr"]
    assert errors["annotations"]["summary"] == "{{ $labels.instance }} of acct fails more than 0.05 of its operations"


def test_the_error_rate_gate_fails_naming_the_instance():
    series = [{"labels": {"instance": "a:1"}, "value": 0.01}, {"labels": {"instance": "b:2"}, "value": 0.5}]
    with pytest.raises(AirflowFailException, match=r"error rate above 0.05: b:2 = 0.500"):
        steps.gate_error_rate(series, PARAMS)
    assert steps.gate_error_rate(series[:1], PARAMS) == series[:1]


@pytest.mark.parametrize(
    ("conf", "change", "message"),
    [
        ({"host_cuont": 3}, {}, "unknown parameter(s) 'host_cuont'"),
        ({}, {"capacity_spec": "nope"}, "capacity_spec 'nope': no spec file for model 'nope'"),
        ({}, {"scrape_interval": 1e-09}, "scrape_interval 1e-09: must be at least 1 second(s)"),
    ],
)
def test_the_first_task_refuses_before_the_lock_and_before_any_host(monkeypatch, conf, change, message):
    monkeypatch.setenv("WECUBE_CAPACITY_SPECS", str(Path(__file__).resolve().parents[3] / "dags" / "capacity"))
    with pytest.raises(steps.RunRefused) as e:  # hook=None: the lock (a CMDB call) is never reached
        steps.start_run(FakeTI(), {**PARAMS, **change}, conf, PARAMS, hook=None, steps=8, hold_intervals=4, now=0.0)
    assert message in str(e.value)


def test_no_probe_no_baseline():
    with pytest.raises(AirflowSkipException, match="no capacity probe ran"):
        steps.promote_baseline(FakeTI(), PARAMS, store=None, prometheus=None)


def test_the_lock_holder_is_the_run():
    assert steps.holder(FakeTI(run_id="manual__7")) == "wecube_app_rollout/manual__7"
