"""Alerts from Asset events: what a runbook reads, each state change once, and non-alerts named."""

from __future__ import annotations

import pytest

from airflow_wecube.remediation.alerts import AlertError, alert_from_extra, alerts_from_events


def extra(status="firing", fp="f1", starts="2026-12-01T20:00:00Z", **labels) -> dict:
    return {
        "status": status,
        "labels": {
            "alertname": "AccountServiceDown",
            "instance": "127.0.0.1:25000",
            "app": "account-service",
            **labels,
        },
        "annotations": {"summary": "down"},
        "fingerprint": fp,
        "startsAt": starts,
        "endsAt": "0001-01-01T00:00:00Z",
    }


def test_an_alertmanager_alert():
    a = alert_from_extra(extra(job="wecube_app_account-service"), "2026-12-01T20:00:05+00:00")
    assert (a.name, a.app, a.instance, a.job, a.status) == (
        "AccountServiceDown",
        "account-service",
        "127.0.0.1:25000",
        "wecube_app_account-service",
        "firing",
    )
    assert a.key == "f1@2026-12-01T20:00:00Z"
    assert a.to_dict()["annotations"] == {"summary": "down"} and a.to_dict()["received_at"].startswith("2026")


def test_the_same_state_change_twice_is_one_alert_and_its_resolution_another():
    alerts, problems = alerts_from_events([(extra(), "t1"), (extra(), "t2"), (extra(status="resolved"), "t3")])
    assert [a.status for a in alerts] == ["firing", "resolved"] and problems == []
    assert alerts[0].received_at == "t1"


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (None, "must be an object holding an alert, got NoneType"),
        ({"labels": {}}, "no labels.alertname"),
        ({"labels": {"alertname": "X"}, "status": "pending"}, "status must be 'firing' or 'resolved', got 'pending'"),
    ],
)
def test_an_event_that_is_not_an_alert_is_named_and_skipped(bad, message):
    with pytest.raises(AlertError, match=message.replace("(", r"\(").replace(")", r"\)")):
        alert_from_extra(bad)
    alerts, problems = alerts_from_events([(bad, ""), (extra(), "")])
    assert len(alerts) == 1 and len(problems) == 1
    assert problems[0].startswith("event 1: ") and message in problems[0]
